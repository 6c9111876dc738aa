/*
 * Network faults: every map key, map value and constant shared by bpf/netfault.bpf.c and
 * agent/net/netfault.c. It compiles in BPF (clang -target bpf) and in user space, with UAPI types
 * only; nothing here is kept as a copy anywhere else. docs/netfault.md explains the design.
 */
#ifndef FAULTLINE_NETFAULT_H
#define FAULTLINE_NETFAULT_H

#include <linux/types.h>
#include <linux/bpf.h> /* struct bpf_spin_lock */

/* Rule slots per interface. A set of rules is a 64-bit mask, so this can be at most 64. */
#ifndef NETFAULT_MAX_RULES
#define NETFAULT_MAX_RULES 64
#endif
#if NETFAULT_MAX_RULES < 1 || NETFAULT_MAX_RULES > 64
#error "NETFAULT_MAX_RULES must be 1..64: a set of rules is a 64-bit mask"
#endif

/* Entries per prefix trie (one trie per address family; local and remote prefixes share it). */
#ifndef NETFAULT_MAX_PREFIXES
#define NETFAULT_MAX_PREFIXES 65536
#endif

/* Entries of the exemption trie (flows that faults never touch unless a rule opts in). */
#ifndef NETFAULT_MAX_EXEMPT
#define NETFAULT_MAX_EXEMPT 1024
#endif

/* IPv6 extension headers walked to find the L4 header; past that, ports are unknown. */
#ifndef NETFAULT_MAX_EXTHDRS
#define NETFAULT_MAX_EXTHDRS 6
#endif

/*
 * The tc filters we add, on the ingress and the egress hook of clsact, always have this
 * priority and handle, and run a program with one of these names. Priority 1 runs first, so a
 * fault applies before other classifiers see the packet; packets we do not drop get
 * TC_ACT_UNSPEC, so the filters behind ours still run and decide as if we were not there.
 */
#ifndef NETFAULT_TC_PRIORITY
#define NETFAULT_TC_PRIORITY 1
#endif
#define NETFAULT_TC_HANDLE 0xfa17
#define NETFAULT_PROG_INGRESS "netfault_in"
#define NETFAULT_PROG_EGRESS "netfault_out"

/* skb->tc_index of a copy made by a duplication rule: it passes our hook once, untouched. */
#define NETFAULT_DUP_TC_INDEX 0xfa17

/*
 * skb->tc_index of the socketless copy in which a delayed packet of a local socket leaves
 * (bpf/netfault.bpf.c, hand_over()): the copy passes our egress hook once more, which gives it
 * the departure time and the original's tc_index back.
 */
#define NETFAULT_DELAY_TC_INDEX 0xfa1b

/*
 * Ingress shaping goes through an IFB device, by a mirred action (only act_mirred marks a
 * packet so that an IFB accepts it on every kernel: Linux 6.1, Debian 12's, drops what a
 * bpf_redirect() sends to an IFB, though 6.18 does not). A second filter of ours, the steering filter, runs the program
 * NETFAULT_PROG_STEER (classic cls_bpf, not direct-action) at NETFAULT_STEER_PRIORITY with our
 * handle, and carries the mirred action. The packet's skb->tc_index tells it what to do:
 *   SHAPE_REQ  set by netfault_in for a packet a SHAPE rule matched; the steering filter
 *              changes it to SHAPED and matches: mirred sends the packet to the IFB device;
 *   SHAPED     the IFB hands the packet back to the stack and it passes netfault_in again,
 *              which changes it to PASS2 and lets it through untouched;
 *   PASS2      the steering filter clears it and matches again: the IFB also marked the
 *              packet to skip one action, so mirred does nothing this time and the packet
 *              goes up the stack (the same as any tc + IFB setup's second pass).
 */
#define NETFAULT_SHAPE_REQ_TC_INDEX 0xfa18
#define NETFAULT_SHAPED_TC_INDEX 0xfa19
#define NETFAULT_SHAPE_PASS2_TC_INDEX 0xfa1a
#ifndef NETFAULT_STEER_PRIORITY
#define NETFAULT_STEER_PRIORITY 0xfa17
#endif
#define NETFAULT_PROG_STEER "netfault_steer"

/*
 * Latency by EDT (earliest departure time): a DELAY rule stamps skb->tstamp of matching egress
 * packets and the device's root sch_fq holds each packet until then. Jitter follows a
 * distribution table like netem's (NETFAULT_DIST_SCALE units of the jitter per entry, read
 * from iproute2's .dist files by user space); NETFAULT_DIST_UNIFORM needs none. Departure times
 * are kept monotonic per flow (socket, else flow hash) in an LRU map of NETFAULT_MAX_FLOWS entries, so jitter
 * never reorders a flow.
 */
#ifndef NETFAULT_MAX_FLOWS
#define NETFAULT_MAX_FLOWS 16384
#endif
#define NETFAULT_DIST_MAX 4096 /* entries of a table; a power of two */
#define NETFAULT_DIST_SCALE 8192

enum netfault_dist {
	NETFAULT_DIST_UNIFORM, /* delay - jitter .. delay + jitter */
	NETFAULT_DIST_NORMAL,
	NETFAULT_DIST_PARETO,
	NETFAULT_DIST_PARETONORMAL,
	NETFAULT_DIST__COUNT,
};

/* One distribution table: delay + jitter * v[rnd % size] / NETFAULT_DIST_SCALE. */
struct netfault_dist_table {
	__u32 size; /* entries in use, 1..NETFAULT_DIST_MAX; 0: not loaded */
	__u32 pad;
	__s16 v[NETFAULT_DIST_MAX];
};

/*
 * Key of the per-flow departure times: the sending socket's cookie (a local socket's packets
 * are one flow), or for packets without a socket (forwarded) the flow hash with bit 63 set;
 * and the rule.
 */
#define NETFAULT_FLOW_HASHED (1ULL << 63)

struct netfault_flow_key {
	__u64 flow;
	__u32 slot;
	__u32 pad;
};

/* Probabilities are fixed point: P = value / 2^32, except NETFAULT_PROB_ONE, which is 1. */
#define NETFAULT_PROB_ONE 0xffffffffu

enum netfault_hook {
	NETFAULT_HOOK_INGRESS,
	NETFAULT_HOOK_EGRESS,
	NETFAULT_HOOK__COUNT,
};

/* Directions a rule applies in (bit per hook). */
#define NETFAULT_DIR_INGRESS (1u << NETFAULT_HOOK_INGRESS)
#define NETFAULT_DIR_EGRESS (1u << NETFAULT_HOOK_EGRESS)
#define NETFAULT_DIR_BOTH (NETFAULT_DIR_INGRESS | NETFAULT_DIR_EGRESS)

enum netfault_action {
	NETFAULT_ACT_LOSS = 1,	/* drop with probability prob */
	NETFAULT_ACT_LOSS_GE,	/* drop following the rule's Gilbert-Elliott channel (ge) */
	NETFAULT_ACT_CORRUPT,	/* with probability prob, flip one bit after the L3 header */
	NETFAULT_ACT_DUPLICATE, /* with probability prob, send one extra copy */
	NETFAULT_ACT_PARTITION, /* drop everything that matches */
	NETFAULT_ACT_SHAPE,	/* steer into a bandwidth limit: egress classid, ingress IFB */
	NETFAULT_ACT_DELAY,	/* egress: stamp a departure time (EDT) for sch_fq */
	NETFAULT_ACT_DNS,	/* egress DNS queries whose name matches: answer or drop (dns) */
	NETFAULT_ACT__MAX = NETFAULT_ACT_DNS,
};

/* struct netfault_rule.flags */
#define NETFAULT_RULE_NO_EXEMPT \
	(1u << 0)		       /* the experiment opted in: exempt flows are faulted too */
#define NETFAULT_RULE_LPORTS (1u << 1) /* local port range set: portless packets never match */
#define NETFAULT_RULE_RPORTS (1u << 2) /* remote port range set: likewise */

/*
 * Gilbert-Elliott parameters, as netem's "loss gemodel p r 1-h 1-k". Each packet is lost with
 * the loss probability of the state the channel is in, then the channel moves.
 */
struct netfault_ge {
	__u32 p;	 /* P(Good -> Bad) per packet */
	__u32 r;	 /* P(Bad -> Good) per packet */
	__u32 loss_bad;	 /* 1-h: loss probability in Bad */
	__u32 loss_good; /* 1-k: loss probability in Good */
};

/*
 * DNS faults (NETFAULT_ACT_DNS): an egress UDP query (QR 0, opcode QUERY, one question) whose
 * name a pattern of the rule matches, and whose type is in the rule's list, is answered at once
 * by the program with the rule's RCODE or with forged address records (SPOOF; the packet turned
 * into the response and sent back to the ingress of the same device), or dropped. The same
 * query over TCP is dropped. IPv4 and IPv6 (without extension headers) resolvers.
 *
 * Names are matched without a loop over patterns: the program hashes every suffix of the
 * lower-cased query name label by label, from the root up (netfault_dns_mix() of the label
 * hashes), and looks each hash up in the dns_names map, whose entries say which rule slots
 * have that name as an exact pattern (matched by the whole query name) or as a suffix pattern
 * "*.NAME" (matched by a strict suffix). A hit is confirmed byte by byte against the name the
 * entry stores, so a hash collision cannot match.
 */
#ifndef NETFAULT_MAX_DNS_NAMES
#define NETFAULT_MAX_DNS_NAMES 16384 /* entries of dns_names: 256 patterns x 64 rules */
#endif
#define NETFAULT_DNS_NAME_MAX 255   /* bytes of a name in wire format, the root's 0 included */
#define NETFAULT_DNS_LABELS_MAX 127 /* labels of a name of NETFAULT_DNS_NAME_MAX bytes */
#define NETFAULT_DNS_QTYPES_MAX 16  /* query types per rule; none: every type */
#define NETFAULT_DNS_SPOOF_MAX 8    /* addresses of each family a SPOOF rule answers with */
#define NETFAULT_DNS_TTL_MAX 604800 /* a SPOOF answer's TTL, seconds (one week) */

/* struct netfault_rule.dns_op */
enum netfault_dns_op {
	NETFAULT_DNS_ANSWER = 1, /* respond with dns_rcode */
	NETFAULT_DNS_DROP,	 /* drop the query: the client times out */
	/*
	 * Answer NOERROR with dns_spoof's records: an A query (class IN) with the A records, an
	 * AAAA query with the AAAA records, any other query (or a family without addresses)
	 * with no record (NODATA).
	 */
	NETFAULT_DNS_SPOOF,
};

/* The records of a SPOOF answer (struct netfault_rule.dns_spoof). */
struct netfault_dns_spoof {
	__u32 ttl;   /* seconds */
	__u8 n_a;    /* 0..NETFAULT_DNS_SPOOF_MAX */
	__u8 n_aaaa; /* 0..NETFAULT_DNS_SPOOF_MAX */
	__u16 pad;
	__u8 a[NETFAULT_DNS_SPOOF_MAX][4];     /* network order */
	__u8 aaaa[NETFAULT_DNS_SPOOF_MAX][16]; /* network order */
};

/* An entry of dns_names: a pattern's name in wire format, lower case. */
struct netfault_dns_name {
	__u64 exact;  /* rule slots with the pattern NAME */
	__u64 suffix; /* rule slots with the pattern *.NAME */
	__u32 len;    /* bytes of name in use, the root's 0 included */
	__u8 name[NETFAULT_DNS_NAME_MAX + 1];
};

/*
 * The hash of a name's suffix: h(root) = NETFAULT_DNS_HASH_ROOT, h(label.rest) =
 * netfault_dns_mix(h(rest), hash of the label's bytes), the label hashed with its length byte
 * first (FNV-1a, lower case). User space hashes the patterns with the same functions.
 */
#define NETFAULT_DNS_HASH_ROOT 0x6a09e667f3bcc908ULL
#define NETFAULT_DNS_FNV_BASIS 0xcbf29ce484222325ULL
#define NETFAULT_DNS_FNV_PRIME 0x100000001b3ULL

static inline __u64 netfault_dns_byte(__u64 h, __u8 c)
{
	return (h ^ c) * NETFAULT_DNS_FNV_PRIME;
}

static inline __u64 netfault_dns_mix(__u64 rest, __u64 label)
{
	__u64 h = (rest ^ (label * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;

	return h ^ (h >> 31);
}

/* ASCII lower case, without a branch. */
static inline __u8 netfault_dns_lower(__u8 c)
{
	return c | (((__u8)(c - 'A') < 26) << 5);
}

/* What a rule matches besides addresses, and what it does. Ports are in host byte order. */
struct netfault_rule {
	__u8 action; /* enum netfault_action */
	__u8 proto;  /* IPPROTO_* of the L4 header (after IPv6 extension headers), 0 = any */
	__u16 flags; /* NETFAULT_RULE_* */
	__u16 lport_min, lport_max; /* inclusive; used when NETFAULT_RULE_LPORTS */
	__u16 rport_min, rport_max; /* inclusive; used when NETFAULT_RULE_RPORTS */
	__u32 prob;		    /* LOSS, CORRUPT, DUPLICATE */
	struct netfault_ge ge;	    /* LOSS_GE */
	/*
	 * SHAPE, applied when no later rule drops the packet (the first SHAPE rule wins).
	 * Egress: skb->priority = classid, which the root HTB reads as its class. Ingress: the
	 * packet is marked NETFAULT_SHAPE_REQ_TC_INDEX for the steering filter (classid 0).
	 */
	__u32 classid;
	/*
	 * DELAY, applied when no later rule drops the packet (the first DELAY rule wins): the
	 * departure time is now (or the time the stack already set, if later) + delay_ns +
	 * jitter drawn from dist, never earlier than the flow's previous packet. corr is netem's
	 * correlation of successive random draws (fixed point, 0 = independent).
	 */
	__u32 corr;
	__u64 delay_ns;
	__u64 jitter_ns;
	__u32 dist; /* enum netfault_dist */
	__u8 dns_op;				   /* DNS: enum netfault_dns_op */
	__u8 dns_rcode;				   /* DNS, ANSWER: the response's RCODE */
	__u16 dns_qtypes[NETFAULT_DNS_QTYPES_MAX]; /* DNS: query types; 0 ends, none: any */
	__u16 pad;
	struct netfault_dns_spoof dns_spoof; /* DNS, SPOOF: the answer's records */
};

/* The random state of one rule, shared by all CPUs: Gilbert-Elliott channel, delay draws. */
struct netfault_ge_state {
	struct bpf_spin_lock lock;
	__u32 bad;  /* LOSS_GE: 0 = Good, 1 = Bad */
	__u32 last; /* DELAY with corr: the previous draw */
};

/* Per rule and per CPU; user space sums the CPUs. */
struct netfault_counters {
	__u64 matched;	  /* packets this rule applied to (exempted ones not included) */
	__u64 dropped;	  /* of those, dropped (loss, Gilbert-Elliott loss, partition) */
	__u64 corrupted;  /* a bit was flipped */
	__u64 duplicated; /* a copy was sent */
	__u64 exempted;	  /* matched everything but were left alone as exempt flows */
	__u64 delayed;	  /* a departure time was set (DELAY) */
	__u64 queries;	  /* DNS: queries that reached the rule (matched counts those named) */
	__u64 answered;	  /* DNS: answered by the program (RCODE or SPOOF records) */
};

/*
 * Prefix tries: (side, prefix) -> __u64 mask of the rule slots whose local or remote CIDRs
 * contain that prefix. A trie answers with the longest match only, so user space stores in
 * every prefix the rules of all the prefixes that contain it. prefixlen counts the side word.
 */
enum netfault_side {
	NETFAULT_SIDE_REMOTE, /* the peer: source on ingress, destination on egress */
	NETFAULT_SIDE_LOCAL,  /* this host: destination on ingress, source on egress */
};

#define NETFAULT_LPM_SIDE_BITS 32

struct netfault_lpm4_key {
	__u32 prefixlen; /* NETFAULT_LPM_SIDE_BITS + 0..32 */
	__u32 side;	 /* enum netfault_side */
	__u8 addr[4];
};

struct netfault_lpm6_key {
	__u32 prefixlen; /* NETFAULT_LPM_SIDE_BITS + 0..128 */
	__u32 side;	 /* enum netfault_side */
	__u8 addr[16];
};

/*
 * Exempt flows: (protocol, local port, remote port, remote prefix). 0 as protocol or port is
 * a wildcard; the program looks up only the wildcard shapes present (config.exempt_shapes).
 * Addresses are IPv6 or IPv4-mapped IPv6 (::ffff:a.b.c.d), so one trie holds both families.
 */
#define NETFAULT_EXEMPT_FIXED_BITS 64

struct netfault_exempt_key {
	__u32 prefixlen; /* NETFAULT_EXEMPT_FIXED_BITS + 0..128 */
	__u8 proto;	 /* 0 = any protocol (ports must then be 0) */
	__u8 pad0;
	__u16 lport; /* host byte order, 0 = any */
	__u16 rport; /* host byte order, 0 = any */
	__u16 pad1;
	__u8 addr[16];
};

enum netfault_exempt_shape {
	NETFAULT_EXEMPT_FULL,  /* proto, lport, rport */
	NETFAULT_EXEMPT_LPORT, /* proto, lport, any rport */
	NETFAULT_EXEMPT_RPORT, /* proto, any lport, rport */
	NETFAULT_EXEMPT_PROTO, /* proto, any ports */
	NETFAULT_EXEMPT_ANY,   /* any protocol and ports: the remote prefix alone */
	NETFAULT_EXEMPT__SHAPES,
};

/*
 * Inline prefix tables, in cfg: while one family has at most NETFAULT_INLINE_PREFIXES prefixes
 * on a side (over all rules), user space copies them there too, and the program compares the
 * address with each (loads and compares, no helper call) instead of asking the trie, which
 * cost about 20 ns a lookup even with one entry. Larger sets stay in the trie alone. The trie
 * always holds every prefix: a table being written (odd seq) sends the packet there.
 */
#ifndef NETFAULT_INLINE_PREFIXES
#define NETFAULT_INLINE_PREFIXES 4
#endif
#define NETFAULT_INLINE_TRIE 0xffffffffu /* n[side]: more than fit; the trie answers */

/* One prefix of an inline table; addr and mask in network byte order, addr & mask == addr. */
struct netfault_inline4_entry {
	__u32 addr;
	__u32 mask;
	__u64 rules; /* the rule slots naming this prefix */
};

struct netfault_inline6_entry {
	__u64 addr[2]; /* the 16 address bytes as two words, as the program loads them */
	__u64 mask[2];
	__u64 rules;
};

/*
 * A table per family. seq is a sequence count (odd while user space writes the table, which
 * it does between two increments); n[side] is the number of entries of e[side] in use, or
 * NETFAULT_INLINE_TRIE. An address matches the rules of every entry containing it; the program
 * compares all NETFAULT_INLINE_PREFIXES entries, so an unused one has mask 0 and an address
 * with a bit set, which nothing matches.
 */
struct netfault_inline4 {
	__u32 seq;
	__u32 n[2]; /* by enum netfault_side */
	__u32 pad;
	struct netfault_inline4_entry e[2][NETFAULT_INLINE_PREFIXES];
};

struct netfault_inline6 {
	__u32 seq;
	__u32 n[2];
	__u32 pad;
	struct netfault_inline6_entry e[2][NETFAULT_INLINE_PREFIXES];
};

/*
 * Prefix hash tables: while a family's prefixes on a side come in at most NETFAULT_HASH_LENS
 * distinct lengths, the program asks the prefixes_h4 / prefixes_h6 hash maps instead of the
 * trie (when the inline table does not hold the side): one lookup per length, longest first,
 * of the address masked to that length; the first hit answers. The hash maps hold the same
 * entries as the tries, with the same effective masks (the rules of every prefix containing
 * the entry), so the longest hit is what the trie would answer. A trie lookup walks a node per
 * branching bit (about 70 ns more than a hash lookup with 10,000 /24s). The lengths, in cfg,
 * are written like the inline tables (seq odd while being written; n[side] NETFAULT_INLINE_TRIE
 * when there are more lengths: the trie answers); while the entries change they list the
 * lengths of the old and the new entries together.
 */
#ifndef NETFAULT_HASH_LENS
#define NETFAULT_HASH_LENS 4
#endif

struct netfault_hkey4 {
	__u32 plen_side; /* prefix length (0..32) | side << 8 */
	__u32 addr;	 /* network order, the bits past the length 0 */
};

struct netfault_hkey6 {
	__u32 plen_side; /* prefix length (0..128) | side << 8 */
	__u32 pad;
	__u64 addr[2]; /* the 16 address bytes as two words, masked */
};

struct netfault_hlen4 {
	__u32 plen_side; /* the key's first word for this length */
	__u32 mask;	 /* network order */
};

struct netfault_hlen6 {
	__u32 plen_side;
	__u32 pad;
	__u64 mask[2];
};

struct netfault_hlens4 {
	__u32 seq;
	__u32 n[2]; /* lengths in use by side, longest first; or NETFAULT_INLINE_TRIE */
	__u32 pad;
	struct netfault_hlen4 l[2][NETFAULT_HASH_LENS];
};

struct netfault_hlens6 {
	__u32 seq;
	__u32 n[2];
	__u32 pad;
	struct netfault_hlen6 l[2][NETFAULT_HASH_LENS];
};

/*
 * Global state of one program instance, in .bss (mmap-ed by user space). A rule is in force on
 * a hook when its bit is in active[hook]; a rule with no remote (local) CIDRs has its bit in
 * remote_any (local_any) and matches any address on that side.
 */
struct netfault_config {
	__u64 active[NETFAULT_HOOK__COUNT];
	__u64 remote_any;
	__u64 local_any;
	__u32 exempt_shapes; /* bit per enum netfault_exempt_shape with entries */
	__u32 pad;
	__u64 dns_rules; /* rule slots with action NETFAULT_ACT_DNS: only these parse DNS */
	/*
	 * The remote ports of all DNS rules together, low << 16 | high (inclusive; 0 when there
	 * is no DNS rule): a packet to another port is not parsed, so it pays a comparison.
	 */
	__u64 dns_ports;
	/*
	 * The lease deadline of each rule slot, in bpf_ktime_get_ns() time (CLOCK_MONOTONIC,
	 * which user space reads with clock_gettime(CLOCK_MONOTONIC): the same clock, stopped
	 * in suspend on both sides; the program compares it with the jiffies clock below, or
	 * the coarse clock, see NETFAULT_COARSE_SLACK_NS); 0: none. The agent advances it on every renewal of the
	 * lease the rule's fault belongs to. Once it has passed, the rule lets packets through
	 * untouched although still attached: a dead agent's faults lapse with their lease.
	 */
	__u64 deadline[NETFAULT_MAX_RULES];
	struct netfault_inline4 in4; /* the inline prefix tables (above) */
	struct netfault_inline6 in6;
	struct netfault_hlens4 h4; /* the prefix hash tables' lengths (above) */
	struct netfault_hlens6 h6;
	/*
	 * The deadline clock from jiffies (see NETFAULT_COARSE_SLACK_NS): while clock_tick is
	 * not 0, the program takes clock_base + bpf_jiffies64() * clock_tick as the time; user
	 * space sets both. clock_j and clock_ns are the sample netfault_clock takes for it.
	 */
	__u64 clock_base;
	__u64 clock_tick;
	__u64 clock_j;
	__u64 clock_ns;
};

/*
 * The clock for the deadlines. bpf_ktime_get_ns() cost about 30 ns per packet and
 * bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC as of the last timer tick) still about 10 ns, a
 * helper call each; bpf_jiffies64() is inlined by the verifier into one load. Jiffies count
 * the ticks of CLOCK_MONOTONIC (the kernel advances them by the ticks that time has passed,
 * TICK_NSEC each), so user space, which knows the tick and one sample of (jiffies,
 * CLOCK_MONOTONIC) taken by the netfault_clock program, sets clock_base and clock_tick in cfg
 * so that base + jiffies * tick is the sample's time + (jiffies since the sample + 1 +
 * ceil(NETFAULT_COARSE_SLACK_NS / tick)) ticks: never behind the precise time while jiffies
 * trail it by less than NETFAULT_COARSE_SLACK_NS, ahead of it by at most that + 3 ticks.
 * Where user space could not learn the tick, clock_tick stays 0 and the program adds the
 * slack to the coarse time, which trails the precise time by less than one tick (1 to 10 ms:
 * HZ is 100 to 1000). Either way a rule lapses a little before its deadline, never after it.
 */
#define NETFAULT_COARSE_SLACK_NS 10000000ULL

#endif
