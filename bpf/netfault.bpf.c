// SPDX-License-Identifier: GPL-2.0
/*
 * Network faults on the clsact hooks of one interface: loss (random or Gilbert-Elliott),
 * corruption, duplication and partition for the packets that match a rule, and the steering
 * of matching packets into a bandwidth limit (agent/net/tc.c sets up the qdiscs). Rules live in maps
 * and change at run time without reloading. Per packet: one load when no rule is in force on
 * this hook; otherwise a parse, at most two prefix lookups (remote and local address: compares
 * against an inline table in cfg when the rules name few prefixes, else the trie), then a walk
 * over only the rule slots the addresses selected. Layouts: include/faultline/netfault.h;
 * design and measurements: docs/netfault.md.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "faultline/netfault.h"

/* Bytes before the network header: 14 on Ethernet-like devices, 0 on L3 devices (tun). */
const volatile __u32 l2_len = ETH_HLEN;

/* Which rules are in force where; written by user space through the mmap-ed .bss. */
struct netfault_config cfg;

/* Rule slots: what to match besides addresses, and what to do. Key: slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NETFAULT_MAX_RULES);
	__type(key, __u32);
	__type(value, struct netfault_rule);
} rules SEC(".maps");

/* Gilbert-Elliott channel per rule slot, one for all CPUs (see docs/netfault.md). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NETFAULT_MAX_RULES);
	__type(key, __u32);
	__type(value, struct netfault_ge_state);
} ge_states SEC(".maps");

/* Jitter distribution tables (DELAY), by enum netfault_dist; written by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NETFAULT_DIST__COUNT);
	__type(key, __u32);
	__type(value, struct netfault_dist_table);
} dist_tables SEC(".maps");

/* Compare-and-swap tries to raise a flow's last departure time (netfault_stamp()). */
#define NETFAULT_CAS_TRIES 8

/* Last departure time per (flow, DELAY rule): jitter never reorders a flow. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NETFAULT_MAX_FLOWS);
	__type(key, struct netfault_flow_key);
	__type(value, __u64);
} flow_times SEC(".maps");

/* Counters per rule slot and CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NETFAULT_MAX_RULES);
	__type(key, __u32);
	__type(value, struct netfault_counters);
} rule_stats SEC(".maps");

/* IPv4 (side, prefix) -> mask of the rule slots whose CIDRs contain it. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, NETFAULT_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct netfault_lpm4_key);
	__type(value, __u64);
} prefixes_v4 SEC(".maps");

/* IPv6 (side, prefix) -> mask of the rule slots whose CIDRs contain it. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, NETFAULT_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct netfault_lpm6_key);
	__type(value, __u64);
} prefixes_v6 SEC(".maps");

/*
 * The same entries as prefixes_v4 / prefixes_v6, by exact (side, length, prefix): looked up
 * once per length in use instead of the trie while few lengths are (struct netfault_hlens4).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NETFAULT_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct netfault_hkey4);
	__type(value, __u64);
} prefixes_h4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NETFAULT_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct netfault_hkey6);
	__type(value, __u64);
} prefixes_h6 SEC(".maps");

/* Flows no rule touches unless it opts in (the agent's own control connection). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, NETFAULT_MAX_EXEMPT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct netfault_exempt_key);
	__type(value, __u32);
} exempt SEC(".maps");

/* DNS patterns: suffix hash -> the name and the rule slots that have it (netfault.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NETFAULT_MAX_DNS_NAMES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct netfault_dns_name);
} dns_names SEC(".maps");

/* Bytes of the network header read at once: IPv6's fixed header and 4 bytes past it. */
#define HDR_LEN (sizeof(struct ipv6hdr) + 4)

/*
 * Bytes of the largest UDP answer the program builds: header, DNS header, the question (a name
 * of NETFAULT_DNS_NAME_MAX bytes, type, class) and NETFAULT_DNS_SPOOF_MAX AAAA records, rounded
 * up to bpf_csum_diff()'s limit (503 of 512 used).
 */
#define DNS_UDP_MAX 512

/* The pseudo-headers of the TCP and UDP checksums (csum_partial()). */
struct pseudo4 {
	__u8 a[4], b[4];
	__u8 zero, proto;
	__be16 len;
};

struct pseudo6 {
	__u8 a[16], b[16];
	__be32 len, proto;
};

/*
 * What the rules look at, in the hook's point of view. Ports are in host byte order.
 *
 * Everything a run writes lives here, in the per-CPU map value, and not on the stack: the
 * trie and exemption keys are built in place and passed to the lookups from here, and the
 * headers are read into hdr. Without CAP_PERFMON (the agent's case), the verifier follows
 * every first store into a stack slot, and every spill of a pointer, with a speculation
 * barrier (Spectre v4; lfence on x86), which cost more than the rest of the program did.
 */
struct packet {
	/*
	 * The remote and the local address as trie keys (struct netfault_lpm4_key is the first
	 * 12 bytes of this layout: IPv4 in the first 4 bytes of addr).
	 */
	struct netfault_lpm6_key remote;
	struct netfault_lpm6_key local;
	struct netfault_exempt_key ekey; /* is_exempt()'s key */
	__u64 now;    /* the deadline clock once a rule matched (deadline check), else 0 */
	/*
	 * The state of this CPU's random number generator (rnd32()), kept across runs: 0 until
	 * the first draw seeds it.
	 */
	__u64 rng;
	__u64 cand;   /* the candidate rule slots */
	__u32 slot;   /* the rule maps' key, for netfault_apply() */
	__u32 l3_end; /* offset just past the IP header(s): corruption happens at or after it */
	__u8 hook;    /* enum netfault_hook */
	__s8 exempt;  /* is_exempt(), or -1 when not looked up yet */
	__u8 v6;
	__u8 proto;	/* L4 protocol, or the last IPv6 next header seen */
	__u8 has_ports; /* TCP, UDP, UDP-Lite, SCTP; not a non-first fragment */
	__u8 shaped;
	__u8 delayed; /* a DELAY rule matched: delay_slot is the first one's */
	__u8 l4;      /* enum l4_state */
	__u16 lport, rport;
	__u32 shape_classid; /* the first matching SHAPE rule's, applied after the walk */
	__u32 delay_slot;
	__u32 handover_tc_index; /* hand_over(): for the copy's nested run */
	__u64 handover_tstamp;
	/* inline_rules4/6()'s and hash_rules4/6()'s answer: the rule slots of the address */
	__u64 inline_mask;
	/* hash_rules4/6(): the keys being looked up, and the lengths' seq when they began */
	struct netfault_hkey4 hk4;
	struct netfault_hkey6 hk6;
	__u32 hseq;
	__be16 ports[2]; /* the L4 header's first 4 bytes, when has_ports */
	__u16 check;	 /* csum_partial(): the packet's checksum field */
	__u8 byte;	 /* corrupt(): the byte it flips */
	/* DNS (netfault_dns()), parsed only when a DNS rule is a candidate. */
	__u8 dns;	 /* the packet is a DNS query: dns_match and the rest are set */
	__u8 redirected; /* answered: sent back by bpf_redirect() */
	__u16 dns_qtype;
	__u16 dns_qclass;
	__u16 dns_ancount; /* SPOOF: records in dns_rr */
	__u32 dns_rrlen;   /* SPOOF: bytes in dns_rr */
	__u32 dns_ulen;	   /* the answer's UDP length, for netfault_dns_csum6() */
	__u32 dns_n;	   /* bytes read into qname */
	__u32 dns_next;	   /* the walk: offset of the next length byte */
	__u32 dns_nlabels; /* the walk: labels so far; the suffix walk: labels left */
	__u64 dns_h;	   /* the walk: hash of the current label; then of the suffix */
	__u32 dns_off;	   /* offset of the DNS header */
	__u32 dns_qlen;	   /* bytes of the query name, the root's 0 included */
	__u64 dns_match;   /* rule slots with a pattern that matches the name */
	__u64 dns_key;	   /* dns_names' key being looked up */
	__u8 dns_hdr[12];
	__u8 dns_lab[NETFAULT_DNS_LABELS_MAX + 1]; /* offset of each label in qname */
	__u64 dns_lh[NETFAULT_DNS_LABELS_MAX + 1]; /* hash of each label */
	/* The question as read: the name, lower-cased by the parse, then type and class. */
	__u8 qname[NETFAULT_DNS_NAME_MAX + 9];
	/* SPOOF: the answer records (netfault_dns_spoof()), A (16 bytes) or AAAA (28) each. */
	__u8 dns_rr[NETFAULT_DNS_SPOOF_MAX * 28];
	/* An IPv6 answer's UDP checksum (netfault_dns_csum6()): pseudo-header, then the segment. */
	struct pseudo6 dns_ph6;
	__u8 dns_buf[DNS_UDP_MAX];
	/*
	 * The network header and what follows it, as the parse read it; after the parse, the
	 * checksum pseudo-header of csum_partial().
	 */
	union {
		struct iphdr ip;
		struct ipv6hdr ip6;
		struct pseudo4 ph4;
		struct pseudo6 ph6;
		__u8 bytes[HDR_LEN];
	} hdr __attribute__((aligned(8)));
};

/* The key of the packets map, in .rodata: a key on the stack would cost a store per packet. */
static const __u32 zero_key = 0;

/*
 * The packet being processed, per CPU: in a map rather than on the stack, for the same reason
 * as struct walk's 64-bit fields. A run never nests in another run of this instance on the
 * same CPU once past the tc_index checks: the only nesting is a duplicate's egress copy or a
 * delayed packet's socketless copy (bpf_clone_redirect re-enters the egress hook), which
 * return at those checks; the latter reads what hand_over() left here for it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct packet);
} packets SEC(".maps");

struct ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

/* Copy the addresses in the hook's point of view: the remote side is the source on ingress. */
static __always_inline void set_addrs(struct packet *pkt, const __u32 hook, const void *saddr,
				      const void *daddr, __u32 len)
{
	if (hook == NETFAULT_HOOK_INGRESS) {
		__builtin_memcpy(pkt->remote.addr, saddr, len);
		__builtin_memcpy(pkt->local.addr, daddr, len);
	} else {
		__builtin_memcpy(pkt->local.addr, saddr, len);
		__builtin_memcpy(pkt->remote.addr, daddr, len);
	}
}

/* What the parse knows of the L4 header's first 4 bytes (struct packet, l4). */
enum l4_state {
	L4_NONE, /* no L4 header here: a non-first fragment, or its header could not be read */
	L4_READ, /* pkt->ports holds them */
	L4_AT,	 /* they are at pkt->l3_end, still to be read */
};

/* Copy n bytes (a multiple of 4) from the packet's linear data into pkt->hdr, a word at a time. */
static __always_inline void copy_hdr(struct packet *pkt, const void *from, const __u32 n)
{
	__u64 *to = (__u64 *)pkt->hdr.bytes;
	const __u64 *src = from;
	__u32 i;

#pragma unroll
	for (i = 0; i < n / 8; i++)
		to[i] = src[i];
	if (n % 8)
		*(__u32 *)&to[n / 8] = *(const __u32 *)&src[n / 8];
}

/*
 * Read the network header and what follows it into pkt->hdr: want bytes, or at least need
 * bytes when the packet is shorter. 1 when want bytes were read, 0 when need, -1 when not even
 * those. From the linear data when they are there (loads at constant offsets: the verifier
 * refuses a variable offset into the packet without CAP_PERFMON), else with
 * bpf_skb_load_bytes(), which costs a helper call and reads non-linear data too.
 */
static __always_inline int read_hdr(struct __sk_buff *skb, struct packet *pkt, const __u32 want,
				    const __u32 need)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (l2_len == ETH_HLEN) {
		if (data + ETH_HLEN + want <= end) {
			copy_hdr(pkt, data + ETH_HLEN, want);
			return 1;
		}
	} else if (l2_len == 0) {
		if (data + want <= end) {
			copy_hdr(pkt, data, want);
			return 1;
		}
	}
	if (!bpf_skb_load_bytes(skb, l2_len, pkt->hdr.bytes, want))
		return 1;
	if (!bpf_skb_load_bytes(skb, l2_len, pkt->hdr.bytes, need))
		return 0;
	return -1;
}

/*
 * IPv4: the header and the 4 bytes after it in one read (the ports, when the header has no
 * options), else the header alone. Results go to pkt, not to variables of the caller, which
 * the compiler would keep on the stack (see struct packet).
 */
static __always_inline int parse_ipv4(struct __sk_buff *skb, const __u32 hook, struct packet *pkt)
{
	struct iphdr *ip = &pkt->hdr.ip;
	int r = read_hdr(skb, pkt, sizeof(*ip) + 4, sizeof(*ip));

	if (r < 0)
		return -1;
	pkt->l4 = r ? L4_READ : L4_AT;
	if (ip->version != 4 || ip->ihl < 5)
		return -1;
	pkt->proto = ip->protocol;
	pkt->l3_end = l2_len + ip->ihl * 4;
	if (ip->frag_off & bpf_htons(0x1fff))
		pkt->l4 = L4_NONE;
	else if (ip->ihl != 5)
		pkt->l4 = L4_AT;
	if (pkt->l4 == L4_READ)
		__builtin_memcpy(pkt->ports, &pkt->hdr.bytes[sizeof(*ip)], sizeof(pkt->ports));
	set_addrs(pkt, hook, &ip->saddr, &ip->daddr, 4);
	return 0;
}

/*
 * The extension-header walk runs under bpf_loop(): an open-coded loop with a branch per header
 * type multiplies the paths the verifier explores, and without CAP_PERFMON (which the agent
 * gives up) its Spectre v1 checks explore each branch speculatively too, past its limits.
 */
enum exthdr_end {
	EXTHDR_GO_ON,	   /* still walking, or ended on the L4 header */
	EXTHDR_NOT_FIRST,  /* a non-first fragment: no L4 header here */
	EXTHDR_TRUNCATED,  /* a header could not be read */
};

struct exthdr_walk {
	struct __sk_buff *skb;
	__u64 off; /* 64-bit fields: see struct walk */
	__u64 nexthdr;
	__u64 end; /* enum exthdr_end; one field, so every exit writes the same place */
};

/* One IPv6 extension header: 0 to go on, 1 when the walk ends. */
static long exthdr_one(__u32 i, void *ctx)
{
	struct exthdr_walk *w = ctx;
	__u8 nexthdr = w->nexthdr;

	if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	    nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_AH) {
		__u8 h[2];

		if (bpf_skb_load_bytes(w->skb, w->off, h, sizeof(h))) {
			w->end = EXTHDR_TRUNCATED;
			return 1;
		}
		w->off += nexthdr == IPPROTO_AH ? (h[1] + 2) * 4 : (h[1] + 1) * 8;
		w->nexthdr = h[0];
		return 0;
	}
	if (nexthdr == IPPROTO_FRAGMENT) {
		struct ipv6_frag fh;

		if (bpf_skb_load_bytes(w->skb, w->off, &fh, sizeof(fh))) {
			w->end = EXTHDR_TRUNCATED;
			return 1;
		}
		w->off += sizeof(fh);
		w->nexthdr = fh.nexthdr;
		if (fh.frag_off & bpf_htons(0xfff8)) {
			w->end = EXTHDR_NOT_FIRST;
			return 1;
		}
		return 0;
	}
	return 1;
}

/*
 * The IPv6 extension headers after the fixed header, from pkt->proto (its next header): on
 * return pkt->proto is the header the walk ended on and *l4 its offset; -1 when a header could
 * not be read, 1 when the packet is a non-first fragment, else 0. Not inlined: its walk state
 * is on the stack, which only packets with extension headers should pay for (see struct
 * packet).
 */
static __attribute__((noinline)) int walk_exthdrs(struct __sk_buff *skb, struct packet *pkt)
{
	struct exthdr_walk w = {};

	w.skb = skb;
	w.off = l2_len + sizeof(struct ipv6hdr);
	w.nexthdr = pkt->proto;
	bpf_loop(NETFAULT_MAX_EXTHDRS, exthdr_one, &w, 0);
	if (w.end == EXTHDR_TRUNCATED)
		return -1;
	pkt->proto = w.nexthdr;
	pkt->l3_end = w.off;
	return w.end == EXTHDR_NOT_FIRST;
}

static __always_inline int is_exthdr(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_AH || nexthdr == IPPROTO_FRAGMENT;
}

/*
 * IPv6: the fixed header (and the 4 bytes after it in the same read, the ports when no
 * extension header follows), then up to NETFAULT_MAX_EXTHDRS extension headers (hop-by-hop,
 * routing, destination options, fragment, AH). When the walk ends on an extension header,
 * proto is that header's number and the packet has no ports.
 */
static __always_inline int parse_ipv6(struct __sk_buff *skb, const __u32 hook, struct packet *pkt)
{
	struct ipv6hdr *ip6 = &pkt->hdr.ip6;
	int r = read_hdr(skb, pkt, sizeof(*ip6) + 4, sizeof(*ip6));

	if (r < 0)
		return -1;
	pkt->l4 = r ? L4_READ : L4_AT;
	if (ip6->version != 6)
		return -1;
	set_addrs(pkt, hook, &ip6->saddr, &ip6->daddr, 16);
	pkt->proto = ip6->nexthdr;
	pkt->l3_end = l2_len + sizeof(*ip6);
	if (!is_exthdr(ip6->nexthdr)) {
		if (pkt->l4 == L4_READ)
			__builtin_memcpy(pkt->ports, &pkt->hdr.bytes[sizeof(*ip6)],
					 sizeof(pkt->ports));
		return 0;
	}
	r = walk_exthdrs(skb, pkt);
	if (r < 0)
		return -1;
	pkt->l4 = r ? L4_NONE : L4_AT;
	return 0;
}

/*
 * Read the packet's addresses, protocol and ports into pkt: 0, or -1 when it is not an IP
 * packet we can read.
 */
static __always_inline int parse(struct __sk_buff *skb, const __u32 hook, struct packet *pkt)
{
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		if (parse_ipv4(skb, hook, pkt))
			return -1;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		pkt->v6 = 1;
		if (parse_ipv6(skb, hook, pkt))
			return -1;
	} else {
		return -1;
	}
	switch (pkt->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
		if (pkt->l4 == L4_NONE)
			return 0;
		if (pkt->l4 == L4_AT &&
		    bpf_skb_load_bytes(skb, pkt->l3_end, pkt->ports, sizeof(pkt->ports)))
			return 0; /* truncated: no ports */
		pkt->has_ports = 1;
		if (hook == NETFAULT_HOOK_INGRESS) {
			pkt->rport = bpf_ntohs(pkt->ports[0]);
			pkt->lport = bpf_ntohs(pkt->ports[1]);
		} else {
			pkt->lport = bpf_ntohs(pkt->ports[0]);
			pkt->rport = bpf_ntohs(pkt->ports[1]);
		}
		break;
	}
	return 0;
}

/*
 * The rule slots whose prefixes on this side contain the IPv4 address k, from the inline
 * table (see struct netfault_inline4): 1 with them in pkt->inline_mask, 0 when the trie must
 * answer (more prefixes than the table holds, or user space wrote it meanwhile). Loads and
 * compares at constant offsets into cfg: no helper call, nothing on the stack.
 */
static __always_inline int inline_rules4(struct packet *pkt, const struct netfault_lpm6_key *k,
					 const __u32 side)
{
	const struct netfault_inline4 *t = &cfg.in4;
	__u32 seq = *(volatile const __u32 *)&t->seq;
	__u32 n = *(volatile const __u32 *)&t->n[side];
	__u32 a = *(const __u32 *)k->addr;
	__u64 m = 0;
	int i;

	if ((seq & 1) || n > NETFAULT_INLINE_PREFIXES)
		return 0;
#pragma unroll
	for (i = 0; i < NETFAULT_INLINE_PREFIXES; i++) {
		const volatile struct netfault_inline4_entry *e = &t->e[side][i];

		/*
		 * Volatile, like the seq: the loads stay between its two reads, one entry at a
		 * time (else the compiler loads all of them at once and spills them).
		 */
		if ((a & e->mask) == e->addr)
			m |= e->rules;
	}
	if (*(volatile const __u32 *)&t->seq != seq)
		return 0;
	pkt->inline_mask = m;
	return 1;
}

/* The same for an IPv6 address, two 64-bit words at a time. */
static __always_inline int inline_rules6(struct packet *pkt, const struct netfault_lpm6_key *k,
					 const __u32 side)
{
	const struct netfault_inline6 *t = &cfg.in6;
	__u32 seq = *(volatile const __u32 *)&t->seq;
	__u32 n = *(volatile const __u32 *)&t->n[side];
	__u64 a0 = *(const __u64 *)k->addr, a1 = *(const __u64 *)&k->addr[8];
	__u64 m = 0;
	int i;

	if ((seq & 1) || n > NETFAULT_INLINE_PREFIXES)
		return 0;
#pragma unroll
	for (i = 0; i < NETFAULT_INLINE_PREFIXES; i++) {
		const volatile struct netfault_inline6_entry *e = &t->e[side][i];

		if ((a0 & e->mask[0]) == e->addr[0] && (a1 & e->mask[1]) == e->addr[1])
			m |= e->rules;
	}
	if (*(volatile const __u32 *)&t->seq != seq)
		return 0;
	pkt->inline_mask = m;
	return 1;
}

/*
 * inline_rules4/6() for the packet being processed and one side: 1 with the rule slots in
 * pkt->inline_mask, 0 when the trie must answer. A global function, with registers of its
 * own: inlined into netfault_run(), the scans left the compiler too few and it spilled to the
 * stack, each spill a speculation barrier without CAP_PERFMON (see struct packet). The packet
 * comes from its map, as in netfault_apply().
 */
__attribute__((noinline)) int netfault_inline_rules(__u32 side)
{
	struct packet *pkt = bpf_map_lookup_elem(&packets, &zero_key);

	if (!pkt)
		return 0;
	if (side == NETFAULT_SIDE_REMOTE)
		return pkt->v6 ? inline_rules6(pkt, &pkt->remote, NETFAULT_SIDE_REMOTE)
			       : inline_rules4(pkt, &pkt->remote, NETFAULT_SIDE_REMOTE);
	return pkt->v6 ? inline_rules6(pkt, &pkt->local, NETFAULT_SIDE_LOCAL)
		       : inline_rules4(pkt, &pkt->local, NETFAULT_SIDE_LOCAL);
}

/*
 * The rule slots of the longest prefix on this side containing the IPv4 address k, from the
 * prefix hash table (struct netfault_hlens4): 1 with them in pkt->inline_mask, 0 when the trie
 * must answer. Nothing is kept in a register across the lookups but pkt: the seq is in pkt,
 * the count and each length are read again (the seq check at the end catches a change).
 */
static __always_inline int hash_rules4(struct packet *pkt, const struct netfault_lpm6_key *k,
				       const __u32 side)
{
	const struct netfault_hlens4 *t = &cfg.h4;
	__u64 *v, m = 0;
	int i;

	pkt->hseq = *(volatile const __u32 *)&t->seq;
	if ((pkt->hseq & 1) || *(volatile const __u32 *)&t->n[side] > NETFAULT_HASH_LENS)
		return 0;
#pragma unroll
	for (i = 0; i < NETFAULT_HASH_LENS; i++) {
		const volatile struct netfault_hlen4 *l = &t->l[side][i];

		if (i >= *(volatile const __u32 *)&t->n[side])
			break;
		pkt->hk4.plen_side = l->plen_side;
		pkt->hk4.addr = *(const __u32 *)k->addr & l->mask;
		v = bpf_map_lookup_elem(&prefixes_h4, &pkt->hk4);
		if (v) {
			m = *v;
			break;
		}
	}
	/* Stored after the lookups: a pointer into pkt kept across them was spilled. */
	pkt->inline_mask = m;
	return *(volatile const __u32 *)&t->seq == pkt->hseq;
}

/* The same for an IPv6 address, two 64-bit words at a time. */
static __always_inline int hash_rules6(struct packet *pkt, const struct netfault_lpm6_key *k,
				       const __u32 side)
{
	const struct netfault_hlens6 *t = &cfg.h6;
	__u64 *v, m = 0;
	int i;

	pkt->hseq = *(volatile const __u32 *)&t->seq;
	if ((pkt->hseq & 1) || *(volatile const __u32 *)&t->n[side] > NETFAULT_HASH_LENS)
		return 0;
#pragma unroll
	for (i = 0; i < NETFAULT_HASH_LENS; i++) {
		const volatile struct netfault_hlen6 *l = &t->l[side][i];

		if (i >= *(volatile const __u32 *)&t->n[side])
			break;
		pkt->hk6.plen_side = l->plen_side;
		pkt->hk6.addr[0] = *(const __u64 *)k->addr & l->mask[0];
		pkt->hk6.addr[1] = *(const __u64 *)&k->addr[8] & l->mask[1];
		v = bpf_map_lookup_elem(&prefixes_h6, &pkt->hk6);
		if (v) {
			m = *v;
			break;
		}
	}
	/* Stored after the lookups: a pointer into pkt kept across them was spilled. */
	pkt->inline_mask = m;
	return *(volatile const __u32 *)&t->seq == pkt->hseq;
}

/*
 * hash_rules4/6() for the packet being processed and one side: 1 with the rule slots in
 * pkt->inline_mask, 0 when the trie must answer. A global function, as netfault_inline_rules().
 */
__attribute__((noinline)) int netfault_hash_rules(__u32 side)
{
	struct packet *pkt = bpf_map_lookup_elem(&packets, &zero_key);

	if (!pkt)
		return 0;
	if (side == NETFAULT_SIDE_REMOTE)
		return pkt->v6 ? hash_rules6(pkt, &pkt->remote, NETFAULT_SIDE_REMOTE)
			       : hash_rules4(pkt, &pkt->remote, NETFAULT_SIDE_REMOTE);
	return pkt->v6 ? hash_rules6(pkt, &pkt->local, NETFAULT_SIDE_LOCAL)
		       : hash_rules4(pkt, &pkt->local, NETFAULT_SIDE_LOCAL);
}

/*
 * Rule slots whose CIDRs on this side contain the address (0 when none): from the inline
 * table while it holds this side, else from the hash tables while they hold it, else from the
 * trie. The trie key is the packet's own
 * (struct packet); an IPv4 trie reads its first 12 bytes.
 */
static __always_inline __u64 prefix_rules(struct packet *pkt, const __u32 side)
{
	struct netfault_lpm6_key *k = side == NETFAULT_SIDE_REMOTE ? &pkt->remote : &pkt->local;
	__u64 *mask;

	/*
	 * The call only while the table holds this side: a large set goes to the trie at once.
	 * Both counts are read and one chosen (volatile, so that the compiler does not choose
	 * the address instead: a pointer picked by a branch is refused without CAP_PERFMON).
	 */
	__u32 n4 = *(volatile const __u32 *)&cfg.in4.n[side];
	__u32 n6 = *(volatile const __u32 *)&cfg.in6.n[side];

	__u32 h4, h6;

	if ((pkt->v6 ? n6 : n4) <= NETFAULT_INLINE_PREFIXES && netfault_inline_rules(side))
		return pkt->inline_mask;
	/*
	 * Then the hash tables while few prefix lengths are in use, else the trie. Their counts
	 * are read here, after the call: read before it, they were kept across it on the stack,
	 * a speculation barrier on every packet without CAP_PERFMON.
	 */
	h4 = *(volatile const __u32 *)&cfg.h4.n[side];
	h6 = *(volatile const __u32 *)&cfg.h6.n[side];
	if ((pkt->v6 ? h6 : h4) <= NETFAULT_HASH_LENS && netfault_hash_rules(side))
		return pkt->inline_mask;
	k->side = side;
	if (pkt->v6) {
		k->prefixlen = NETFAULT_LPM_SIDE_BITS + 128;
		mask = bpf_map_lookup_elem(&prefixes_v6, k);
	} else {
		k->prefixlen = NETFAULT_LPM_SIDE_BITS + 32;
		mask = bpf_map_lookup_elem(&prefixes_v4, k);
	}
	return mask ? *mask : 0;
}

/*
 * The key's first 8 bytes (prefixlen, proto, pad0, lport) are written as one 64-bit store.
 * Without CAP_PERFMON, the verifier of Linux 6.1 (Debian 12's; 6.18 no longer does) refuses a
 * store narrower than 8 bytes into a stack slot holding a spilled register ("attempt to
 * corrupt spilled pointer on stack"), even a spilled scalar, and a 4-byte constant prefixlen
 * at an aligned offset is tracked as one.
 */
static __always_inline int exempt_lookup(struct netfault_exempt_key *k, __u8 proto, __u16 lport,
					 __u16 rport)
{
	__u64 head;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	head = (__u64)(NETFAULT_EXEMPT_FIXED_BITS + 128) | (__u64)proto << 32 | (__u64)lport << 48;
#else
	head = (__u64)(NETFAULT_EXEMPT_FIXED_BITS + 128) << 32 | (__u64)proto << 24 | lport;
#endif
	*(__u64 *)k = head;
	k->rport = rport;
	return bpf_map_lookup_elem(&exempt, k) != NULL;
}

/*
 * The exemption shapes in use, read again at each use: kept in a register across the
 * lookups, they would take a spill (see struct packet).
 */
static __always_inline __u32 exempt_shapes(void)
{
	return *(volatile __u32 *)&cfg.exempt_shapes;
}

/*
 * Is this packet part of an exempt flow? Only the wildcard shapes in use are looked up. The
 * key is the packet's own (struct packet), 8-byte aligned there: exempt_lookup() writes its
 * first 8 bytes in one store.
 */
static __always_inline int is_exempt(struct packet *pkt)
{
	struct netfault_exempt_key *k = &pkt->ekey;

	if (!exempt_shapes())
		return 0;
	k->pad1 = 0;
	if (pkt->v6) {
		__builtin_memcpy(k->addr, pkt->remote.addr, 16);
	} else {
		__builtin_memset(k->addr, 0, 10);
		k->addr[10] = 0xff;
		k->addr[11] = 0xff;
		__builtin_memcpy(&k->addr[12], pkt->remote.addr, 4);
	}
	if ((exempt_shapes() & (1u << NETFAULT_EXEMPT_FULL)) &&
	    exempt_lookup(k, pkt->proto, pkt->lport, pkt->rport))
		return 1;
	if ((exempt_shapes() & (1u << NETFAULT_EXEMPT_LPORT)) &&
	    exempt_lookup(k, pkt->proto, pkt->lport, 0))
		return 1;
	if ((exempt_shapes() & (1u << NETFAULT_EXEMPT_RPORT)) &&
	    exempt_lookup(k, pkt->proto, 0, pkt->rport))
		return 1;
	if ((exempt_shapes() & (1u << NETFAULT_EXEMPT_PROTO)) && exempt_lookup(k, pkt->proto, 0, 0))
		return 1;
	if ((exempt_shapes() & (1u << NETFAULT_EXEMPT_ANY)) && exempt_lookup(k, 0, 0, 0))
		return 1;
	return 0;
}

/*
 * A uniform 32-bit random number from this CPU's generator: SplitMix64 (a Weyl sequence
 * through a 64-bit finaliser; it passes BigCrush), its state in the per-CPU packet, seeded
 * from bpf_get_prandom_u32() at the first draw. Loads, multiplies and shifts: no helper call,
 * which cost about 10 ns per packet here. Several runs on one CPU never interleave their
 * draws past the tc_index checks (see packets), so the sequence is the CPU's own.
 */
static __always_inline __u32 rnd32(struct packet *pkt)
{
	__u64 z = pkt->rng;

	if (!z)
		z = (__u64)bpf_get_prandom_u32() << 32 | bpf_get_prandom_u32();
	z += 0x9e3779b97f4a7c15ULL;
	pkt->rng = z;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (__u32)((z ^ (z >> 31)) >> 32);
}

/* Does a packet with probability prob (fixed point, see NETFAULT_PROB_ONE) draw the fault? */
static __always_inline int chance(struct packet *pkt, __u32 prob)
{
	if (prob == NETFAULT_PROB_ONE)
		return 1;
	if (!prob)
		return 0;
	return rnd32(pkt) < prob;
}

static __always_inline int below(__u32 rnd, __u32 prob)
{
	return prob == NETFAULT_PROB_ONE || rnd < prob;
}

/*
 * One step of the rule's Gilbert-Elliott channel: the packet is lost with the loss probability
 * of the current state, then the state moves (netem's order). The state is shared by all CPUs
 * under a spin lock, so the chain sees the packets of all flows in one sequence; no helper may
 * run under the lock, so the random numbers are drawn before it.
 */
static __always_inline int ge_lost(struct packet *pkt, const struct netfault_rule *rule)
{
	__u32 p = rule->ge.p, r = rule->ge.r;
	/* Loaded before the choice: a pointer picked by a branch is refused without CAP_PERFMON. */
	__u32 loss_bad = rule->ge.loss_bad, loss_good = rule->ge.loss_good;
	__u32 rnd_move = rnd32(pkt);
	__u32 rnd_loss = rnd32(pkt);
	struct netfault_ge_state *st;
	__u32 bad;

	st = bpf_map_lookup_elem(&ge_states, &pkt->slot);
	if (!st)
		return 0;
	bpf_spin_lock(&st->lock);
	bad = st->bad;
	if (bad)
		st->bad = !below(rnd_move, r);
	else
		st->bad = below(rnd_move, p);
	bpf_spin_unlock(&st->lock);
	return below(rnd_loss, bad ? loss_bad : loss_good);
}

/*
 * Whether the TCP or UDP checksum of the packet is not computed yet (CHECKSUM_PARTIAL): a
 * local socket's packet with checksum offload, whose checksum field then holds only the
 * pseudo-header sum (~tcp_v4_check(len, saddr, daddr, 0) and the like), for the NIC or the
 * stack to complete over the payload later. A tc program cannot read skb->ip_summed, but it
 * can recognise that field: a complete checksum equals the bare pseudo-header sum only by a
 * 1-in-65535 chance, and mistaking one such packet costs no more than a drop (corrupt()).
 * The sum is commutative, so the addresses' order (egress or ingress view) does not matter.
 */
static __always_inline int csum_partial(struct __sk_buff *skb, struct packet *pkt, __u32 l4_len)
{
	struct pseudo6 *ph6 = &pkt->hdr.ph6;
	struct pseudo4 *ph4 = &pkt->hdr.ph4;
	__u32 off;
	__s64 sum;

	if (!pkt->has_ports)
		return 0;
	if (pkt->proto == IPPROTO_TCP)
		off = pkt->l3_end + 16;
	else if (pkt->proto == IPPROTO_UDP)
		off = pkt->l3_end + 6;
	else
		return 0;
	if (bpf_skb_load_bytes(skb, off, &pkt->check, sizeof(pkt->check)))
		return 0;
	if (pkt->v6) {
		__builtin_memcpy(ph6->a, pkt->local.addr, 16);
		__builtin_memcpy(ph6->b, pkt->remote.addr, 16);
		ph6->len = bpf_htonl(l4_len);
		ph6->proto = bpf_htonl(pkt->proto);
		sum = bpf_csum_diff(NULL, 0, (__be32 *)ph6, sizeof(*ph6), 0);
	} else {
		__builtin_memcpy(ph4->a, pkt->local.addr, 4);
		__builtin_memcpy(ph4->b, pkt->remote.addr, 4);
		ph4->zero = 0;
		ph4->proto = pkt->proto;
		ph4->len = bpf_htons((__u16)l4_len);
		sum = bpf_csum_diff(NULL, 0, (__be32 *)ph4, sizeof(*ph4), 0);
	}
	if (sum < 0)
		return 0;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return pkt->check == (__u16)sum;
}

/*
 * Corrupt the packet as the wire would: 0 when a bit was flipped, 1 when the packet must be
 * dropped instead, -1 when nothing was done. A wire error happens after the sender computed
 * the checksum, so the receiver's L4 checksum fails and the packet is dropped there (TCP
 * then retransmits; no application ever sees the bytes). Two things decide whether a flip
 * here has that effect:
 *  - the skb's checksum state: CHECKSUM_UNNECESSARY (the receiving NIC verified the old
 *    bytes, or a forwarded packet carries that verdict to the next device) is withdrawn with
 *    bpf_csum_level(RESET) on both hooks, so the stack verifies again; CHECKSUM_COMPLETE is
 *    kept true to the new bytes by BPF_F_RECOMPUTE_CSUM, so the mismatch shows; with
 *    CHECKSUM_NONE the stack verifies the full checksum in software. All three fail.
 *  - CHECKSUM_PARTIAL (a local TCP/UDP socket with checksum offload, on egress, and on the
 *    ingress of a veth whose peer it came from): the checksum is computed later over the
 *    bytes as they are then, so a flip now would be covered by it, or it is never computed
 *    at all, since a veth peer and a local receiver take CHECKSUM_PARTIAL as verified. No
 *    helper turns the state into one the receiver verifies. Measured on veth: a 4 MiB TCP
 *    transfer under 1% corruption by flipping arrived with a different sha256 and no
 *    TcpInCsumErrors. So such a packet is dropped here, which is what the receiver's
 *    checksum would have done with it on a wire; it still counts as corrupted.
 * ICMP and other protocols always carry a software checksum (CHECKSUM_NONE on egress).
 */
static __always_inline int corrupt(struct __sk_buff *skb, struct packet *pkt)
{
	__u32 len = skb->len, off;

	if (pkt->l3_end >= len)
		return -1;
	if (csum_partial(skb, pkt, len - pkt->l3_end))
		return 1;
	off = pkt->l3_end + bpf_get_prandom_u32() % (len - pkt->l3_end);
	if (bpf_skb_load_bytes(skb, off, &pkt->byte, 1))
		return -1;
	pkt->byte ^= 1 << (bpf_get_prandom_u32() & 7);
	if (bpf_skb_store_bytes(skb, off, &pkt->byte, 1, BPF_F_RECOMPUTE_CSUM))
		return -1;
	bpf_csum_level(skb, BPF_CSUM_LEVEL_RESET);
	return 0;
}

/*
 * Send a copy through the same device and direction. The copy comes back through this hook
 * carrying NETFAULT_DUP_TC_INDEX (skb_clone copies tc_index and nothing on the way resets it)
 * and is let through untouched, so a copy is never copied again.
 */
static __always_inline int duplicate(struct __sk_buff *skb, const __u32 hook)
{
	__u32 saved = skb->tc_index;
	long err;

	skb->tc_index = NETFAULT_DUP_TC_INDEX;
	err = bpf_clone_redirect(skb, skb->ifindex,
				 hook == NETFAULT_HOOK_INGRESS ? BPF_F_INGRESS : 0);
	skb->tc_index = saved;
	return err ? -1 : 0;
}

/*
 * DNS faults (NETFAULT_ACT_DNS; include/faultline/netfault.h explains the name match). The
 * parse runs once per packet and only when a DNS rule is among the packet's candidates, so
 * other packets pay one AND for the feature (netfault_run()).
 */

/*
 * v & mask, done by the program and not folded away by the compiler: an index into a map value
 * the verifier can bound, whatever comparisons the compiler kept on other registers.
 */
static __always_inline __u64 bound(__u64 v, const __u64 mask)
{
	asm volatile("%[v] &= %[m]" : [v] "+r"(v) : [m] "i"(mask));
	return v;
}

/*
 * The walks' callback state (bpf_loop()): only the packet. What they keep lives in it, in the
 * map value: values read from there are unknown to the verifier, so it finds every step like
 * the one before and checks the callback once; counters on the stack, known to it at each
 * step, made it check the name's walk once per possible number of labels and bytes.
 */
struct dns_walk {
	struct packet *pkt;
};

/* One byte of the query name: label offsets, label hashes, the name lower-cased in place. */
static long dns_byte(__u32 n, void *ctx)
{
	struct dns_walk *w = ctx;
	struct packet *pkt = w->pkt;
	__u64 k = bound(pkt->dns_nlabels, 0x7f), i = bound(n, 0xff);
	__u8 c;

	if (n >= NETFAULT_DNS_NAME_MAX || n >= pkt->dns_n)
		return 1; /* too long or truncated: dns_qlen stays 0 */
	c = pkt->qname[i];
	if (n != pkt->dns_next) {
		c = netfault_dns_lower(c);
		pkt->qname[i] = c;
		pkt->dns_h = netfault_dns_byte(pkt->dns_h, c);
		return 0;
	}
	/*
	 * A length byte: the previous label's hash is complete, and this label starts here.
	 * Written before any branch on k, unconditionally (the first label writes a spare entry,
	 * dns_lh[127], and the root one past the last label): without CAP_PERFMON an index must
	 * be the same scalar on every path to its pointer arithmetic.
	 */
	pkt->dns_lh[bound(k - 1, 0x7f)] = pkt->dns_h;
	pkt->dns_lab[k] = n;
	if (!c) {
		/* The root: then the question's type (and class) must follow. */
		if (n + 5 <= pkt->dns_n) {
			pkt->dns_qtype = (__u16)pkt->qname[i + 1] << 8 | pkt->qname[i + 2];
			pkt->dns_qclass = (__u16)pkt->qname[i + 3] << 8 | pkt->qname[i + 4];
			pkt->dns_qlen = n + 1;
		}
		return 1;
	}
	if (c > 63 || pkt->dns_nlabels >= NETFAULT_DNS_LABELS_MAX)
		return 1; /* a compression pointer, a bad label, too many: not a query we match */
	pkt->dns_nlabels = k + 1;
	pkt->dns_next = n + 1 + c;
	pkt->dns_h = netfault_dns_byte(NETFAULT_DNS_FNV_BASIS, c);
	return 0;
}

/* The confirmation's compare (bpf_loop(): the index is the same unknown scalar each step). */
struct dns_cmp {
	struct packet *pkt;
	struct netfault_dns_name *e;
	__u64 off;   /* where the suffix starts in qname */
	__u64 len;   /* bytes to compare */
	__u64 equal; /* 1 until a byte differs */
};

static long dns_cmp_one(__u32 i, void *ctx)
{
	struct dns_cmp *c = ctx;

	if (i >= c->len)
		return 1;
	if (c->pkt->qname[bound(c->off + i, 0xff)] != c->e->name[bound(i, 0xff)]) {
		c->equal = 0;
		return 1;
	}
	return 0;
}

/*
 * Whether the name stored in dns_names under pkt->dns_key equals the query name from offset
 * off on. A global function: checked once.
 */
__attribute__((noinline)) int netfault_dns_confirm(__u32 off)
{
	struct dns_cmp c = {};

	c.pkt = bpf_map_lookup_elem(&packets, &zero_key);
	if (!c.pkt)
		return 0;
	c.e = bpf_map_lookup_elem(&dns_names, &c.pkt->dns_key);
	if (!c.e)
		return 0;
	c.len = c.e->len;
	if (off > NETFAULT_DNS_NAME_MAX || c.len != c.pkt->dns_qlen - off)
		return 0;
	c.off = off;
	c.equal = 1;
	bpf_loop(NETFAULT_DNS_NAME_MAX, dns_cmp_one, &c, 0);
	return c.equal;
}

/* One suffix, from the root up (label dns_nlabels - 1 first): one lookup each. */
static long dns_suffix_one(__u32 i, void *ctx)
{
	struct dns_walk *w = ctx;
	struct packet *pkt = w->pkt;
	struct netfault_dns_name *e;
	__u64 k = pkt->dns_nlabels, mask, exact, suffix;
	__u32 lab;

	if (!k || k > NETFAULT_DNS_LABELS_MAX)
		return 1;
	k = bound(k - 1, 0x7f);
	pkt->dns_nlabels = k;
	/* Read before the branches on k below: an index must be the same scalar on every path. */
	lab = pkt->dns_lab[k];
	pkt->dns_h = netfault_dns_mix(pkt->dns_h, pkt->dns_lh[k]);
	pkt->dns_key = pkt->dns_h;
	e = bpf_map_lookup_elem(&dns_names, &pkt->dns_key);
	if (!e)
		return 0;
	/*
	 * The whole name matches exact patterns, a strict suffix "*." patterns. Both loaded
	 * before the choice, as values: a pointer picked by a branch is refused without
	 * CAP_PERFMON.
	 */
	exact = e->exact;
	suffix = e->suffix;
	asm volatile("" : "+r"(exact), "+r"(suffix));
	mask = (k ? suffix : exact) & *(volatile __u64 *)&cfg.dns_rules;
	if ((mask & ~pkt->dns_match) && netfault_dns_confirm(lab))
		pkt->dns_match |= mask;
	return 0;
}

/*
 * Parse the packet as a DNS query (egress, UDP, or the first segment of a TCP message) and
 * find the DNS rule slots whose patterns match its name: pkt->dns and pkt->dns_match. IPv4,
 * and IPv6 without extension headers (the answer would have to take them out: a query with a
 * fragment, hop-by-hop or other header is left alone).
 */
__attribute__((noinline)) int netfault_dns(struct __sk_buff *skb)
{
	struct dns_walk w = {};
	struct packet *pkt;
	__u32 off, n, len = skb->len;
	__u8 b;

	pkt = bpf_map_lookup_elem(&packets, &zero_key);
	if (!pkt)
		return 0;
	pkt->dns = 0;
	pkt->dns_match = 0;
	if (pkt->hook != NETFAULT_HOOK_EGRESS || !pkt->has_ports)
		return 0;
	if (pkt->v6) {
		if (pkt->l3_end != l2_len + sizeof(struct ipv6hdr))
			return 0;
	} else if (pkt->hdr.ip.frag_off & bpf_htons(0x3fff)) {
		/* A fragment (more follow): its answer would keep the flag. Queries are small. */
		return 0;
	}
	off = pkt->l3_end;
	if (off > 0xffff)
		return 0;
	if (pkt->proto == IPPROTO_UDP) {
		off += sizeof(struct udphdr);
	} else if (pkt->proto == IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, off + 12, &b, 1))
			return 0;
		off += (b >> 4) * 4 + 2; /* the message's 2-byte length first */
	} else {
		return 0;
	}
	if (bpf_skb_load_bytes(skb, off, pkt->dns_hdr, sizeof(pkt->dns_hdr)))
		return 0;
	/* A query (QR 0), opcode QUERY, one question. */
	if ((pkt->dns_hdr[2] & 0xf8) || pkt->dns_hdr[4] || pkt->dns_hdr[5] != 1)
		return 0;
	if (len <= off + sizeof(pkt->dns_hdr) + 5)
		return 0;
	/* 5..260 bytes: a name (at most 255) and its type and class. */
	n = len - off - sizeof(pkt->dns_hdr);
	if (n > NETFAULT_DNS_NAME_MAX + 5)
		n = NETFAULT_DNS_NAME_MAX + 5;
	n = bound(n - 5, 0xff) + 5;
	if (bpf_skb_load_bytes(skb, off + sizeof(pkt->dns_hdr), pkt->qname, n))
		return 0;
	pkt->dns_n = n;
	pkt->dns_next = 0;
	pkt->dns_nlabels = 0;
	pkt->dns_qlen = 0;
	w.pkt = pkt;
	bpf_loop(NETFAULT_DNS_NAME_MAX, dns_byte, &w, 0);
	if (!pkt->dns_qlen)
		return 0;
	pkt->dns_off = off;
	pkt->dns = 1;
	pkt->dns_h = NETFAULT_DNS_HASH_ROOT;
	bpf_loop(NETFAULT_DNS_LABELS_MAX, dns_suffix_one, &w, 0);
	return 0;
}

/* Whether the query's type is one of the rule's (or the rule lists none). */
static __always_inline int dns_qtype_in(const struct netfault_rule *rule, __u16 qtype)
{
	int i;

	if (!rule->dns_qtypes[0])
		return 1;
#pragma unroll
	for (i = 0; i < NETFAULT_DNS_QTYPES_MAX; i++)
		if (rule->dns_qtypes[i] == qtype)
			return 1;
	return 0;
}

/* Bytes of an answer record before its data: name (a pointer), type, class, TTL, length. */
#define DNS_RR_HEAD 12

/* The head of one SPOOF record: the name a compression pointer to the question's (0xc00c). */
static __always_inline void dns_rr_head(__u8 *rr, __u8 type, __be32 ttl, __u8 len)
{
	rr[0] = 0xc0;
	rr[1] = 0x0c;
	rr[2] = 0;
	rr[3] = type;
	rr[4] = 0;
	rr[5] = 1; /* class IN */
	__builtin_memcpy(&rr[6], &ttl, 4);
	rr[10] = 0;
	rr[11] = len;
}

/*
 * SPOOF: the answer records for the query in the packets map, from the rule in pkt->slot, into
 * pkt->dns_rr (pkt->dns_rrlen bytes, pkt->dns_ancount records): the rule's A records for an A
 * query of class IN, its AAAA records for an AAAA query, none otherwise (NODATA). A global
 * function: checked once; slot as netfault_apply()'s.
 */
__attribute__((noinline)) int netfault_dns_spoof(__u32 slot)
{
	const struct netfault_dns_spoof *sp;
	struct netfault_rule *rule;
	struct packet *pkt;
	__u32 i, n;
	__be32 ttl;

	if (slot >= NETFAULT_MAX_RULES)
		return 0;
	pkt = bpf_map_lookup_elem(&packets, &zero_key);
	if (!pkt)
		return 0;
	pkt->dns_rrlen = 0;
	pkt->dns_ancount = 0;
	rule = bpf_map_lookup_elem(&rules, &pkt->slot);
	if (!rule || pkt->dns_qclass != 1)
		return 0;
	sp = &rule->dns_spoof;
	ttl = bpf_htonl(sp->ttl);
	if (pkt->dns_qtype == 1) {
		n = sp->n_a < NETFAULT_DNS_SPOOF_MAX ? sp->n_a : NETFAULT_DNS_SPOOF_MAX;
#pragma unroll
		for (i = 0; i < NETFAULT_DNS_SPOOF_MAX; i++) {
			if (i < n) {
				dns_rr_head(&pkt->dns_rr[i * (DNS_RR_HEAD + 4)], 1, ttl, 4);
				__builtin_memcpy(&pkt->dns_rr[i * (DNS_RR_HEAD + 4) + DNS_RR_HEAD],
						 sp->a[i], 4);
			}
		}
		pkt->dns_ancount = n;
		pkt->dns_rrlen = n * (DNS_RR_HEAD + 4);
	} else if (pkt->dns_qtype == 28) {
		n = sp->n_aaaa < NETFAULT_DNS_SPOOF_MAX ? sp->n_aaaa : NETFAULT_DNS_SPOOF_MAX;
#pragma unroll
		for (i = 0; i < NETFAULT_DNS_SPOOF_MAX; i++) {
			if (i < n) {
				dns_rr_head(&pkt->dns_rr[i * (DNS_RR_HEAD + 16)], 28, ttl, 16);
				__builtin_memcpy(&pkt->dns_rr[i * (DNS_RR_HEAD + 16) + DNS_RR_HEAD],
						 sp->aaaa[i], 16);
			}
		}
		pkt->dns_ancount = n;
		pkt->dns_rrlen = n * (DNS_RR_HEAD + 16);
	}
	return 0;
}

/*
 * The UDP checksum of an IPv6 answer (mandatory there), computed whole over the pseudo-header
 * in pkt->dns_ph6 and the pkt->dns_ulen bytes of the segment at pkt->l3_end, whose checksum
 * field holds 0, and stored. Whole rather than patched: an egress query's checksum is often
 * only the partial one a device would complete. 0, or -1 when a helper failed. A global
 * function: checked once.
 */
__attribute__((noinline)) int netfault_dns_csum6(struct __sk_buff *skb)
{
	struct packet *pkt;
	__u64 len, last;
	__s64 sum;
	__u32 c;
	__u16 check;

	pkt = bpf_map_lookup_elem(&packets, &zero_key);
	if (!pkt)
		return -1;
	len = pkt->dns_ulen;
	if (len < sizeof(struct udphdr) || len > DNS_UDP_MAX || pkt->l3_end > 0xffff)
		return -1;
	len = bound(len - 1, DNS_UDP_MAX - 1) + 1;
	/* The last word zeroed first: the bytes past the segment pad it (bpf_csum_diff()). */
	last = bound(len - 1, DNS_UDP_MAX - 4); /* ((len + 3) & ~3) - 4: 0..508 */
	*(__u32 *)&pkt->dns_buf[last] = 0;
	if (bpf_skb_load_bytes(skb, pkt->l3_end, pkt->dns_buf, len))
		return -1;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&pkt->dns_ph6, sizeof(pkt->dns_ph6), 0);
	if (sum < 0)
		return -1;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)pkt->dns_buf, last + 4, sum);
	if (sum < 0)
		return -1;
	c = (__u32)sum;
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	check = ~c & 0xffff;
	if (!check)
		check = 0xffff; /* 0 means no checksum, which IPv6 does not allow */
	return bpf_skb_store_bytes(skb, pkt->l3_end + offsetof(struct udphdr, check), &check, 2,
				   BPF_F_RECOMPUTE_CSUM)
		       ? -1
		       : 0;
}

/*
 * Turn the query into its answer in place, with the rule's RCODE, or NOERROR and the records
 * netfault_dns_spoof() left in pkt->dns_rr, and send it back to the ingress of this device, so
 * that the asking socket receives it and the resolver never sees the query: the message is cut
 * after the question (an EDNS record of the query is not answered) and grown by the records,
 * flags QR and RA set, AA and TC cleared, RD and the ID kept, ANCOUNT the records'; addresses
 * and ports swapped; the IP length (and IPv4's checksum) fixed; the UDP checksum set to 0,
 * "none", over IPv4 (which allows it), computed over IPv6 (netfault_dns_csum6()). 0, or -1 when
 * a helper failed (the packet is then dropped).
 */
static __always_inline int dns_answer(struct __sk_buff *skb, struct packet *pkt, __u8 rcode)
{
	__u32 l3 = l2_len, l4 = pkt->l3_end, off = pkt->dns_off, rrlen = pkt->dns_rrlen;
	__u32 qend = off + sizeof(pkt->dns_hdr) + pkt->dns_qlen + 4, end;
	struct iphdr *ip = &pkt->hdr.ip;
	struct ipv6hdr *ip6 = &pkt->hdr.ip6;
	__be16 old_len, new_len;
	__be32 a;
	__be16 p;

	if (qend > 0xffff || l4 > 0xffff || qend <= l4 + sizeof(struct udphdr) ||
	    rrlen > sizeof(pkt->dns_rr))
		return -1;
	end = qend + rrlen;
	if (skb->len != end && bpf_skb_change_tail(skb, end, 0))
		return -1;
	if (rrlen >= DNS_RR_HEAD + 4 &&
	    bpf_skb_store_bytes(skb, qend, pkt->dns_rr, bound(rrlen - 1, 0xff) + 1,
				BPF_F_RECOMPUTE_CSUM))
		return -1;
	if (pkt->v6) {
		if (bpf_skb_load_bytes(skb, l3, ip6, sizeof(*ip6)))
			return -1;
		__builtin_memcpy(pkt->dns_ph6.a, &ip6->saddr, 16);
		__builtin_memcpy(&ip6->saddr, &ip6->daddr, 16);
		__builtin_memcpy(&ip6->daddr, pkt->dns_ph6.a, 16);
		ip6->payload_len = bpf_htons(end - l4);
		if (bpf_skb_store_bytes(skb, l3, ip6, sizeof(*ip6), BPF_F_RECOMPUTE_CSUM))
			return -1;
		__builtin_memcpy(pkt->dns_ph6.a, &ip6->saddr, 16);
		__builtin_memcpy(pkt->dns_ph6.b, &ip6->daddr, 16);
		pkt->dns_ph6.len = bpf_htonl(end - l4);
		pkt->dns_ph6.proto = bpf_htonl(IPPROTO_UDP);
	} else {
		if (bpf_skb_load_bytes(skb, l3, ip, sizeof(*ip)))
			return -1;
		old_len = ip->tot_len;
		new_len = bpf_htons(end - l3);
		a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		ip->tot_len = new_len;
		if (bpf_l3_csum_replace(skb, l3 + offsetof(struct iphdr, check), old_len, new_len,
					2))
			return -1;
		/* The checksum field as it is now, so that the store below keeps it. */
		if (bpf_skb_load_bytes(skb, l3 + offsetof(struct iphdr, check), &ip->check, 2))
			return -1;
		if (bpf_skb_store_bytes(skb, l3, ip, sizeof(*ip), BPF_F_RECOMPUTE_CSUM))
			return -1;
	}
	/* The UDP header: ports swapped, the new length, no checksum (yet, over IPv6). */
	if (bpf_skb_load_bytes(skb, l4, pkt->ports, sizeof(pkt->ports)))
		return -1;
	p = bpf_htons(end - l4);
	__builtin_memcpy(&pkt->hdr.bytes[0], &pkt->ports[1], 2);
	__builtin_memcpy(&pkt->hdr.bytes[2], &pkt->ports[0], 2);
	__builtin_memcpy(&pkt->hdr.bytes[4], &p, 2);
	pkt->hdr.bytes[6] = 0;
	pkt->hdr.bytes[7] = 0;
	if (bpf_skb_store_bytes(skb, l4, pkt->hdr.bytes, sizeof(struct udphdr),
				BPF_F_RECOMPUTE_CSUM))
		return -1;
	pkt->dns_hdr[2] = 0x80 | (pkt->dns_hdr[2] & 0x79); /* QR, opcode and RD kept */
	pkt->dns_hdr[3] = 0x80 | (rcode & 0x0f);	   /* RA */
	__builtin_memset(&pkt->dns_hdr[6], 0, 6);	   /* no authority, additional */
	pkt->dns_hdr[7] = pkt->dns_ancount;
	if (bpf_skb_store_bytes(skb, off, pkt->dns_hdr, sizeof(pkt->dns_hdr), BPF_F_RECOMPUTE_CSUM))
		return -1;
	if (pkt->v6) {
		pkt->dns_ulen = end - l4;
		if (netfault_dns_csum6(skb))
			return -1;
	}
	if (l2_len == ETH_HLEN) {
		/* The Ethernet addresses swapped: the answer is for this host. */
		if (bpf_skb_load_bytes(skb, 0, &pkt->hdr.bytes[16], 2 * ETH_ALEN))
			return -1;
		__builtin_memcpy(&pkt->hdr.bytes[0], &pkt->hdr.bytes[16 + ETH_ALEN], ETH_ALEN);
		__builtin_memcpy(&pkt->hdr.bytes[ETH_ALEN], &pkt->hdr.bytes[16], ETH_ALEN);
		if (bpf_skb_store_bytes(skb, 0, pkt->hdr.bytes, 2 * ETH_ALEN, 0))
			return -1;
	}
	return bpf_redirect(skb->ifindex, BPF_F_INGRESS) == TC_ACT_REDIRECT ? 0 : -1;
}

/* Index of the lowest set bit of a one-bit value (de Bruijn); BPF has no ctz instruction. */
/* clang-format off */
static const __u8 debruijn_index[64] = {
	0,  1,	48, 2,	57, 49, 28, 3,	61, 58, 50, 42, 38, 29, 17, 4,
	62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
	46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,	13, 8,	7,  6,
};
/* clang-format on */

/*
 * The time the deadlines are compared with, never behind CLOCK_MONOTONIC (see
 * NETFAULT_COARSE_SLACK_NS): from jiffies (no helper call) once user space set the tick.
 */
static __always_inline __u64 deadline_clock(void)
{
	__u64 tick = *(volatile __u64 *)&cfg.clock_tick;

	if (tick)
		return *(volatile __u64 *)&cfg.clock_base + bpf_jiffies64() * tick;
	return bpf_ktime_get_coarse_ns() + NETFAULT_COARSE_SLACK_NS;
}

static __always_inline int in_range(__u16 v, __u16 lo, __u16 hi)
{
	return v >= lo && v <= hi;
}

/* What netfault_apply() decided; the last two are done by netfault_act(). */
enum verdict {
	VERDICT_PASS,
	VERDICT_DROP,
	VERDICT_CORRUPT,    /* a CORRUPT rule drew this packet */
	VERDICT_DUPLICATE,  /* a DUPLICATE rule drew this packet */
	VERDICT_DNS_ANSWER, /* a DNS rule answers this query */
};

/*
 * Match the rule in one slot against the packet and apply what needs no skb: an enum verdict.
 * A global function, so the verifier checks it once instead of once per call site. It does
 * not take the skb: with one pointer fewer live across its calls, nothing needs a spill to
 * the stack (each spill costs a speculation barrier without CAP_PERFMON; see struct packet).
 * Nor the packet: a global function's pointer argument is plain memory to the verifier, which
 * Linux 6.1 does not accept as a map key; the packets map's value is one (an inlined lookup).
 */
__attribute__((noinline)) int netfault_apply(__u32 slot)
{
	struct netfault_counters *cnt;
	struct netfault_rule *rule;
	struct packet *pkt;
	__u64 deadline;

	if (slot >= NETFAULT_MAX_RULES)
		return 0;
	/* Read at once, where the verifier still knows slot's bound. */
	deadline = cfg.deadline[slot];
	pkt = bpf_map_lookup_elem(&packets, &zero_key);
	if (!pkt)
		return 0;
	/* The key from pkt, not the stack (see struct packet). */
	pkt->slot = slot;
	rule = bpf_map_lookup_elem(&rules, &pkt->slot);
	if (!rule)
		return 0;
	if (rule->proto && rule->proto != pkt->proto)
		return 0;
	if (rule->flags & (NETFAULT_RULE_LPORTS | NETFAULT_RULE_RPORTS)) {
		if (!pkt->has_ports)
			return 0;
		if ((rule->flags & NETFAULT_RULE_LPORTS) &&
		    !in_range(pkt->lport, rule->lport_min, rule->lport_max))
			return 0;
		if ((rule->flags & NETFAULT_RULE_RPORTS) &&
		    !in_range(pkt->rport, rule->rport_min, rule->rport_max))
			return 0;
	}
	/*
	 * The kernel enforces the lease: a lapsed rule is inert (and counts nothing) even if
	 * nobody removes it. The clock is read once per packet, and only for packets that a
	 * rule with a deadline matched so far.
	 */
	if (deadline) {
		if (!pkt->now)
			pkt->now = deadline_clock();
		if (pkt->now >= deadline)
			return 0;
		/*
		 * The packet and the rule looked up again (inlined array lookups) rather than
		 * kept in registers across the clock's possible helper call, which would take
		 * a spill (see struct packet).
		 */
		pkt = bpf_map_lookup_elem(&packets, &zero_key);
		if (!pkt)
			return 0;
		rule = bpf_map_lookup_elem(&rules, &pkt->slot);
		if (!rule)
			return 0;
	}
	if (!(rule->flags & NETFAULT_RULE_NO_EXEMPT)) {
		if (pkt->exempt < 0)
			pkt->exempt = is_exempt(pkt);
		if (pkt->exempt) {
			cnt = bpf_map_lookup_elem(&rule_stats, &pkt->slot);
			if (cnt)
				cnt->exempted++;
			return 0;
		}
	}
	cnt = bpf_map_lookup_elem(&rule_stats, &pkt->slot);
	if (!cnt)
		return 0;
	if (rule->action == NETFAULT_ACT_DNS) {
		/* Only queries count, and matched only those the name and type select. */
		if (!pkt->dns)
			return 0;
		cnt->queries++;
		if (!(pkt->dns_match & (1ULL << (pkt->slot & 63))) ||
		    !dns_qtype_in(rule, pkt->dns_qtype))
			return 0;
		cnt->matched++;
		if (!chance(pkt, rule->prob))
			return 0;
		/* Over TCP a matching query is dropped: see docs/network-faults.md. */
		if ((rule->dns_op == NETFAULT_DNS_ANSWER || rule->dns_op == NETFAULT_DNS_SPOOF) &&
		    pkt->proto == IPPROTO_UDP)
			return VERDICT_DNS_ANSWER;
		cnt->dropped++;
		return VERDICT_DROP;
	}
	cnt->matched++;
	switch (rule->action) {
	case NETFAULT_ACT_PARTITION:
		cnt->dropped++;
		return VERDICT_DROP;
	case NETFAULT_ACT_LOSS:
		if (chance(pkt, rule->prob)) {
			cnt->dropped++;
			return VERDICT_DROP;
		}
		break;
	case NETFAULT_ACT_LOSS_GE:
		if (ge_lost(pkt, rule)) {
			cnt->dropped++;
			return VERDICT_DROP;
		}
		break;
	case NETFAULT_ACT_CORRUPT:
		if (chance(pkt, rule->prob))
			return VERDICT_CORRUPT;
		break;
	case NETFAULT_ACT_DUPLICATE:
		if (chance(pkt, rule->prob))
			return VERDICT_DUPLICATE;
		break;
	case NETFAULT_ACT_SHAPE:
		if (!pkt->shaped) {
			pkt->shaped = 1;
			pkt->shape_classid = rule->classid;
		}
		break;
	case NETFAULT_ACT_DELAY:
		if (!pkt->delayed && pkt->hook == NETFAULT_HOOK_EGRESS) {
			pkt->delayed = 1;
			pkt->delay_slot = pkt->slot;
			cnt->delayed++;
		}
		break;
	}
	return VERDICT_PASS;
}

/*
 * Carry out a verdict of netfault_apply() for the rule in pkt->slot: 1 when the packet is to
 * be dropped, else 0. A global function: checked once (the packet from its map, as in
 * netfault_apply()).
 */
__attribute__((noinline)) int netfault_act(struct __sk_buff *skb, int verdict)
{
	struct netfault_counters *cnt;
	struct netfault_rule *rule;
	struct packet *pkt;
	__u8 rcode;
	int r;

	if (verdict == VERDICT_PASS)
		return 0;
	if (verdict == VERDICT_DROP)
		return 1;
	pkt = bpf_map_lookup_elem(&packets, &zero_key);
	if (!pkt)
		return 0;
	cnt = bpf_map_lookup_elem(&rule_stats, &pkt->slot);
	if (!cnt)
		return 0;
	if (verdict == VERDICT_CORRUPT) {
		r = corrupt(skb, pkt);
		if (r >= 0)
			cnt->corrupted++;
		/* Its checksum is still to come: dropped, as its receiver would. */
		return r > 0;
	}
	if (verdict == VERDICT_DUPLICATE && !duplicate(skb, pkt->hook))
		cnt->duplicated++;
	if (verdict == VERDICT_DNS_ANSWER) {
		rule = bpf_map_lookup_elem(&rules, &pkt->slot);
		if (!rule)
			return 1;
		rcode = rule->dns_rcode;
		pkt->dns_rrlen = 0;
		pkt->dns_ancount = 0;
		if (rule->dns_op == NETFAULT_DNS_SPOOF)
			netfault_dns_spoof(pkt->slot);
		/* Looked up again: cnt would be spilled across the helpers (see struct packet). */
		if (dns_answer(skb, pkt, rcode)) {
			cnt = bpf_map_lookup_elem(&rule_stats, &pkt->slot);
			if (cnt)
				cnt->dropped++;
			return 1; /* half rewritten: it cannot go on */
		}
		pkt->redirected = 1;
		cnt = bpf_map_lookup_elem(&rule_stats, &pkt->slot);
		if (cnt)
			cnt->answered++;
		return 1;
	}
	return 0;
}

/* floor(x * u / 2^32) without overflow, for x up to 2^63. */
static __always_inline __u64 scale_u32(__u64 x, __u32 u)
{
	return (x >> 32) * u + (((x & 0xffffffffULL) * u) >> 32);
}

/*
 * The delay of one packet under a DELAY rule, as netem draws it: a random value, correlated
 * with the rule's previous one when corr is set (netem's get_crandom(), under the rule's lock),
 * then uniform in [delay - jitter, delay + jitter] or delay + jitter * table[u] / SCALE
 * (netem's tabledist()). Never negative.
 */
static __always_inline __s64 draw_delay(__u32 slot, const struct netfault_rule *rule)
{
	__u64 rho = (__u64)rule->corr + 1, mu = rule->delay_ns, sigma = rule->jitter_ns;
	__u32 dist = rule->dist, corr = rule->corr, u = bpf_get_prandom_u32();
	struct netfault_dist_table *tbl;
	struct netfault_ge_state *st;
	__s64 d;

	if (!sigma)
		return (__s64)mu;
	if (corr) {
		st = bpf_map_lookup_elem(&ge_states, &slot);
		if (st) {
			bpf_spin_lock(&st->lock);
			u = ((__u64)u * ((1ULL << 32) - rho) + (__u64)st->last * rho) >> 32;
			st->last = u;
			bpf_spin_unlock(&st->lock);
		}
	}
	if (dist == NETFAULT_DIST_UNIFORM) {
		d = (__s64)(mu + scale_u32(2 * sigma, u)) - (__s64)sigma;
		return d < 0 ? 0 : d;
	}
	tbl = bpf_map_lookup_elem(&dist_tables, &dist);
	if (!tbl || !tbl->size)
		return (__s64)mu;
	d = (__s64)mu + (((__s64)sigma * tbl->v[(u % tbl->size) & (NETFAULT_DIST_MAX - 1)]) >>
			 13); /* / NETFAULT_DIST_SCALE, rounding down */
	return d < 0 ? 0 : d;
}

/*
 * Stamp the departure time of a packet a DELAY rule matched. sch_fq at the root holds it until
 * then. The base is now, or the departure time TCP's pacing already set when that is later;
 * a flow's packets never get a time earlier than its previous packet's, so a flow keeps its
 * order (fq would otherwise send it in time order). A global function: checked once.
 */
__attribute__((noinline)) int netfault_stamp(struct __sk_buff *skb, __u32 slot)
{
	struct netfault_flow_key key = {.slot = slot};
	struct netfault_rule *rule;
	__u64 now, when, prev, *last;
	__s64 d;
	int i;

	rule = bpf_map_lookup_elem(&rules, &slot);
	if (!rule)
		return 0;
	d = draw_delay(slot, rule);
	now = bpf_ktime_get_ns();
	when = skb->tstamp > now ? skb->tstamp : now;
	when += d;
	key.flow = bpf_get_socket_cookie(skb);
	if (!key.flow)
		key.flow = NETFAULT_FLOW_HASHED | bpf_get_hash_recalc(skb);
	last = bpf_map_lookup_elem(&flow_times, &key);
	if (!last) {
		/* The flow's first packet (or its entry was evicted). */
		if (!bpf_map_update_elem(&flow_times, &key, &when, BPF_NOEXIST))
			goto out;
		/* Another CPU created it in between: go on from its time. */
		last = bpf_map_lookup_elem(&flow_times, &key);
		if (!last)
			goto out;
	}
	/*
	 * Raise the flow's last departure time to ours unless it is later already, atomically:
	 * two CPUs sending on one flow at once must not both read the old time.
	 */
	for (i = 0; i < NETFAULT_CAS_TRIES; i++) {
		prev = *(volatile __u64 *)last;
		if (prev >= when) {
			when = prev;
			break;
		}
		if (__sync_val_compare_and_swap(last, prev, when) == prev)
			break;
	}
out:
	skb->tstamp = when;
	return 0;
}

/*
 * Send a stamped packet of a local socket on in a copy without the socket, and return 0 when
 * the original is to be consumed: netem does the same (skb_orphan_partial()). Otherwise the
 * socket keeps counting the packet as still in the host while fq holds it: TCP Small Queues
 * then let a flow have only about a millisecond of its pacing rate queued, so under a 100 ms
 * delay a bulk TCP flow fell to 0 Mbit/s in the vm stage (netem: 236 Mbit/s), and a UDP
 * sender's send buffer fills. The copy (skb_clone(): no socket, same data) re-enters the egress
 * hook at once on this CPU, nested in bpf_clone_redirect(); netfault_run() gives it the
 * departure time (__bpf_tx_skb() clears skb->tstamp unless TCP set it) and the tc_index.
 * -1 when no copy could be made: the original then goes on, stamped, as before.
 */
static __always_inline int hand_over(struct __sk_buff *skb, struct packet *pkt)
{
	__u32 saved = skb->tc_index;
	long err;

	pkt->handover_tc_index = saved;
	pkt->handover_tstamp = skb->tstamp;
	skb->tc_index = NETFAULT_DELAY_TC_INDEX;
	err = bpf_clone_redirect(skb, skb->ifindex, 0);
	skb->tc_index = saved;
	/* > 0: the qdisc's verdict on the copy (NET_XMIT_DROP when fq was full): it was sent. */
	return err < 0 ? -1 : 0;
}

/*
 * Steer a packet that a SHAPE rule matched and no rule dropped. Egress: the root HTB puts
 * it in the class skb->priority names. Ingress: marked for the steering filter, which sends
 * it to the IFB device (see NETFAULT_SHAPE_REQ_TC_INDEX).
 */
static __always_inline int shape(struct __sk_buff *skb, const struct packet *pkt)
{
	if (pkt->hook == NETFAULT_HOOK_INGRESS)
		skb->tc_index = NETFAULT_SHAPE_REQ_TC_INDEX;
	else if (pkt->shape_classid)
		skb->priority = pkt->shape_classid;
	return TC_ACT_UNSPEC;
}

/*
 * The rules of this hook that the addresses select are applied in slot order, like a
 * pipeline: corruption and duplication act at once, the first drop ends the walk.
 */
/* The walk over the candidate rule slots, one bpf_loop() step per slot (see exthdr_walk). */
struct walk {
	struct __sk_buff *skb;
	__u64 cand;
	/*
	 * 64 bits, like every field of a struct on this program's stack: without CAP_PERFMON,
	 * the verifier of Linux 6.1 refuses a store narrower than 8 bytes into a stack slot that
	 * holds a spilled register, even a spilled scalar ("attempt to corrupt spilled pointer
	 * on stack"), and a narrow store of a known value at an 8-byte aligned offset is one.
	 */
	__u64 dropped;
};

/* The slot of a one-bit mask. */
static __always_inline __u32 bit_slot(__u64 low)
{
	return debruijn_index[(low * 0x03f79d71b4cb0a89ULL) >> 58];
}

/* Apply the rule in a slot: 1 when the packet is to be dropped. */
static __always_inline int apply_slot(struct __sk_buff *skb, __u32 slot)
{
	int verdict = netfault_apply(slot);

	if (verdict == VERDICT_PASS)
		return 0;
	return verdict == VERDICT_DROP || netfault_act(skb, verdict);
}

/* Apply the lowest candidate slot: 0 to go on, 1 when no candidate is left or it dropped. */
static long walk_one(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	__u64 low;

	if (!w->cand)
		return 1;
	low = w->cand & -w->cand;
	w->cand ^= low;
	if (apply_slot(w->skb, bit_slot(low))) {
		w->dropped = 1;
		return 1;
	}
	return 0;
}

/*
 * Apply the candidate rules in slot order: 1 when one dropped the packet. One candidate (the
 * common case) is applied by a direct call; only more go through the bpf_loop() walk, whose
 * state is on the stack (see struct packet). Not inlined, for the same reason as
 * walk_exthdrs().
 */
static __attribute__((noinline)) int walk_rules(struct __sk_buff *skb, __u64 cand)
{
	struct walk w = {};

	w.skb = skb;
	w.cand = cand;
	bpf_loop(NETFAULT_MAX_RULES, walk_one, &w, 0);
	return w.dropped;
}

static __always_inline int netfault_run(struct __sk_buff *skb, const __u32 hook)
{
	struct packet *pkt;
	__u64 cand, low, mask;
	int dropped;

	if (skb->tc_index == NETFAULT_DUP_TC_INDEX) {
		skb->tc_index = 0;
		return TC_ACT_UNSPEC;
	}
	if (hook == NETFAULT_HOOK_EGRESS && skb->tc_index == NETFAULT_DELAY_TC_INDEX) {
		/* hand_over()'s copy: stamped, and on to fq. */
		pkt = bpf_map_lookup_elem(&packets, &zero_key);
		if (pkt) {
			skb->tc_index = pkt->handover_tc_index;
			skb->tstamp = pkt->handover_tstamp;
		}
		return TC_ACT_UNSPEC;
	}
	if (hook == NETFAULT_HOOK_INGRESS && skb->tc_index == NETFAULT_SHAPED_TC_INDEX) {
		/* Back from the IFB device: through untouched, the steering filter ends it. */
		skb->tc_index = NETFAULT_SHAPE_PASS2_TC_INDEX;
		return TC_ACT_UNSPEC;
	}
	if (!cfg.active[hook])
		return TC_ACT_UNSPEC;
	pkt = bpf_map_lookup_elem(&packets, &zero_key);
	if (!pkt)
		return TC_ACT_UNSPEC;
	/* Only what the parse may leave unset: the rest is written before it is read. */
	pkt->now = 0;
	pkt->hook = hook;
	pkt->exempt = -1;
	pkt->v6 = 0;
	pkt->has_ports = 0;
	pkt->shaped = 0;
	pkt->delayed = 0;
	pkt->redirected = 0;
	pkt->lport = 0;
	pkt->rport = 0;
	if (parse(skb, hook, pkt))
		return TC_ACT_UNSPEC;
	/*
	 * The candidates are kept in pkt across the trie lookups: in a register they would be
	 * spilled to the stack (see struct packet).
	 */
	pkt->cand = cfg.active[hook];
	if (pkt->cand & ~cfg.remote_any) {
		mask = prefix_rules(pkt, NETFAULT_SIDE_REMOTE);
		pkt->cand &= *(volatile __u64 *)&cfg.remote_any | mask;
	}
	if (pkt->cand & ~cfg.local_any) {
		mask = prefix_rules(pkt, NETFAULT_SIDE_LOCAL);
		pkt->cand &= *(volatile __u64 *)&cfg.local_any | mask;
	}
	if (!pkt->cand)
		return TC_ACT_UNSPEC;
	/*
	 * DNS is parsed only for candidates of a DNS rule sent to a DNS rule's port: other
	 * packets pay these tests.
	 */
	if ((pkt->cand & *(volatile __u64 *)&cfg.dns_rules) && pkt->has_ports &&
	    pkt->rport >= (*(volatile __u64 *)&cfg.dns_ports >> 16) &&
	    pkt->rport <= (*(volatile __u64 *)&cfg.dns_ports & 0xffff))
		netfault_dns(skb);
	cand = pkt->cand;
	low = cand & -cand;
	if (cand == low)
		dropped = apply_slot(skb, bit_slot(low));
	else
		dropped = walk_rules(skb, cand);
	if (dropped) {
		if (pkt->redirected)
			return TC_ACT_REDIRECT; /* a DNS answer, on its way back */
		/* Egress: STOLEN, so the sender sees wire loss and not ENOBUFS. */
		return hook == NETFAULT_HOOK_EGRESS ? TC_ACT_STOLEN : TC_ACT_SHOT;
	}
	if (pkt->delayed) {
		netfault_stamp(skb, pkt->delay_slot);
		if (skb->sk && !hand_over(skb, pkt))
			return TC_ACT_STOLEN; /* the sender sees it sent, as it is, in the copy */
	}
	if (pkt->shaped)
		return shape(skb, pkt);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int netfault_in(struct __sk_buff *skb)
{
	return netfault_run(skb, NETFAULT_HOOK_INGRESS);
}

SEC("tc")
int netfault_out(struct __sk_buff *skb)
{
	return netfault_run(skb, NETFAULT_HOOK_EGRESS);
}

/*
 * Not attached: user space runs it (BPF_PROG_TEST_RUN) to take one sample of jiffies and
 * CLOCK_MONOTONIC together, for the deadline clock (NETFAULT_COARSE_SLACK_NS).
 */
SEC("tc")
int netfault_clock(struct __sk_buff *skb)
{
	cfg.clock_j = bpf_jiffies64();
	cfg.clock_ns = bpf_ktime_get_ns();
	return TC_ACT_UNSPEC;
}

/*
 * The steering filter (classic cls_bpf with a mirred action to the IFB device): -1 runs the
 * action, 0 passes on to the next filter. See NETFAULT_SHAPE_REQ_TC_INDEX.
 */
SEC("tc")
int netfault_steer(struct __sk_buff *skb)
{
	if (skb->tc_index == NETFAULT_SHAPE_REQ_TC_INDEX) {
		skb->tc_index = NETFAULT_SHAPED_TC_INDEX;
		return -1;
	}
	if (skb->tc_index == NETFAULT_SHAPE_PASS2_TC_INDEX) {
		skb->tc_index = 0;
		return -1;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
