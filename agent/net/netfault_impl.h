/*
 * The inside of struct netfault, shared by the files of the netfault module only
 * (netfault.c: load, attach, detach, rules; netfault_trie.c: the prefix tries;
 * netfault_exempt.c: exemptions; netfault_maps.c: counters and distribution tables).
 * Everyone else uses netfault.h.
 */
#ifndef FL_NETFAULT_IMPL_H
#define FL_NETFAULT_IMPL_H

#include <stdbool.h>
#include <linux/bpf.h>

#include "netfault.h"
#include "pfxtrie.h"

struct netfault_bpf;

#define RULE_BIT(slot) (1ULL << (slot))

struct rule_rec {
	bool used;
	unsigned int dirs;
	struct netfault_rule r;
	struct netfault_cidr *remote;
	size_t n_remote;
	struct netfault_cidr *local;
	size_t n_local;
	struct dnsname *dns_names; /* DNS: its patterns, in dns_names while in force */
	size_t n_dns_names;
};

/*
 * The loaded program and its maps, with what user space keeps of their contents: shared by
 * every interface a struct netfault of it is attached to (netfault_open_shared()), so a rule
 * added through one is in force on all of them.
 */
struct netfault_core {
	struct netfault_bpf *skel;
	int refs;     /* struct netfault handles on it */
	int attached; /* of them, attached */
	__u32 l2_len; /* what the loaded program was verified for (rodata) */
	__u32 prog_id[NETFAULT_HOOK__COUNT];
	struct rule_rec rules[NETFAULT_MAX_RULES];
	struct pfxtrie_table tables[2]; /* [0] IPv4, [1] IPv6 */
	unsigned int exempt_count[NETFAULT_EXEMPT__SHAPES];
};

/* One interface's handle on a core: where it is attached. */
struct netfault {
	struct netfault_core *c;
	int ifindex;
	bool attached;
	bool created_qdisc;
	__u32 steer_prog_id; /* the steering filter's program, while it is attached */
};

/* Free a rule record's CIDRs and names, and clear it. netfault.c. */
void netfault_rec_free(struct rule_rec *rec);

/*
 * The program of a hook of a core (NETFAULT_HOOK_*), and the tc filter message attaching it
 * on ifindex (replace: NLM_F_REPLACE). netfault.c.
 */
int netfault_core_prog_fd(const struct netfault_core *c, enum netfault_hook hook);
struct nl_msg *netfault_filter_msg(const struct netfault_core *c, int ifindex,
				   enum netfault_hook h, bool replace);

/* The link-header length of the device (what the program is verified for). netfault.c. */
int netfault_device_l2_len(int ifindex, __u32 *l2_len);

/* Load a core for devices with that link-header length (refs 0). netfault_share.c. */
int netfault_core_load(__u32 l2_len, struct netfault_core **out);

/* Drop a handle's reference; the last one destroys the core. netfault_share.c. */
void netfault_core_put(struct netfault_core *c);

/* Families (bit 0 IPv4, bit 1 IPv6) a rule names CIDRs of. */
unsigned int netfault_rec_families(const struct rule_rec *rec);

/*
 * Bring the tries of the families given (bits as above), and of any family whose last write
 * failed, in line with the rules in force. netfault_trie.c.
 */
int netfault_tries_sync(struct netfault *nf, unsigned int families);

/*
 * Set the program's deadline clock (cfg.clock_base, clock_tick) from a fresh sample of jiffies
 * and CLOCK_MONOTONIC, measuring the kernel's tick on the process's first call; where that
 * fails the program keeps the coarse clock. Called before deadlines are written, so the
 * sample is never older than the deadline it serves. netfault_clock.c.
 */
void netfault_clock_sync(struct netfault *nf);

/*
 * DNS rules: put the rule's patterns in the program's dns_names map (slot bit set in each
 * name's entry; -EEXIST on a 64-bit hash collision with another name), or take them out.
 * netfault_dns.c.
 */
int netfault_dns_names_add(struct netfault *nf, int slot, const struct rule_rec *rec);
void netfault_dns_names_remove(struct netfault *nf, int slot, const struct rule_rec *rec);

#endif
