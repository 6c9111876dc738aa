/*
 * What the netif*.c files share behind netif.h (not for use outside them): the interface
 * record of the registry (netif.c) and the exemption calls on it (netif_exempt.c). A fault's
 * target is resolved in netif_target.c.
 */
#ifndef FL_NETIF_IMPL_H
#define FL_NETIF_IMPL_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

#include "netfault.h"
#include "netns.h"

struct fault;
struct policy;

/* One exempted flow on an interface, and how many reasons hold it. */
struct exempt_ref {
	struct netfault_exempt ex;
	int refs;
};

/*
 * A faulted interface: its program instance and what holds it. Keyed by its network
 * namespace (ns: dev and inode; its own fd for a foreign one) and ifindex: ifindexes repeat
 * across namespaces.
 */
struct netif {
	struct netns_ref ns;
	int ifindex;
	char name[IF_NAMESIZE];
	struct netfault *nf;
	bool clsact_created;
	int users; /* faults holding it; 0: detached, its program kept loaded for the next one */
	bool agent_ssh; /* the agent's own $SSH_CONNECTION is held */
	struct netfault_exempt agent_ex;
	struct exempt_ref *ex;
	size_t n_ex;
	struct fault *shaper[NETFAULT_HOOK__COUNT];
	struct netif *next;
};

/* ---- netif.c: the registry ---- */

/* Every attached interface (a list through next). */
extern struct netif *netif_registry;

/* The interface of that ifindex in that namespace, or NULL. */
struct netif *netif_find(const struct netns_ref *ns, int ifindex);

/*
 * Namespace-bound operations, run in ns (netns_call(): on a thread that entered it when it is
 * not the agent's own): whether ifindex has clsact, removing our leftover filters, and the
 * name of an ifindex (-ENODEV when there is none).
 */
int netif_ns_clsact_present(const struct netns_ref *ns, int ifindex, bool *present);
int netif_ns_cleanup_leftover(const struct netns_ref *ns, int ifindex, unsigned int flags,
			      int *removed);
int netif_ns_ifname(const struct netns_ref *ns, int ifindex, char name[IF_NAMESIZE]);

/* Free a fault's members (their namespace references and ext), not their interfaces. */
void netif_members_free(struct netif_fault *nf);

/* Release one member's interface (its rules out already). Idempotent. 0 or -errno, err. */
int netif_detach_member(struct fault *f, struct netif_fault *nf, char *err, size_t size);

/* "DESC: " before err when the member is in another namespace and err does not say so. */
void netif_member_err(const struct netif_fault *m, char *err, size_t size);

/* ---- netif_rules.c ---- */

/* Take one member's own rules out of its interface's program (idempotent). 0 or -errno, err. */
int netif_member_remove_rules(struct netif_fault *nf, char *err, size_t size);

/* ---- netif_exempt.c: exemptions ---- */

/* Hold a flow exempt on the interface (one more reference when it is already). 0 or -errno. */
int netif_exempt_hold(struct netif *nif, const struct netfault_exempt *ex);

/* Drop one reference; the last one takes the exemption out of the program. */
void netif_exempt_drop(struct netif *nif, const struct netfault_exempt *ex);

/* An exempted flow for people: "tcp local port 22, peer 192.0.2.1/32 port 51000". */
void netif_exempt_fmt(const struct netfault_exempt *ex, char *buf, size_t size);

/* Hold the installed policy's exemptions on a newly opened interface. 0 or -errno. */
int netif_exempt_hold_policy(struct netif *nif);

/* netif_set_policy(p) unless p is the policy installed last. */
int netif_policy_sync(const struct policy *p, char *err, size_t size);

/* Exemption entries the installed policy holds on each interface. */
size_t netif_policy_exempt_count(void);

/* ---- netif_rules.c ---- */

/* "egress", "ingress" or "both" for NETFAULT_DIR_* bits. */
const char *netif_dirs_name(unsigned int dirs);

#endif
