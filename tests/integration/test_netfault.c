/*
 * The network-fault data path (bpf/netfault.bpf.c, agent/net/netfault.c), checked in a private
 * network namespace this test creates with unshare(CLONE_NEWNET): it holds only lo, and goes
 * away with the process however the test ends.
 *
 *   classify   BPF_PROG_TEST_RUN on hand-built IPv4/IPv6 TCP/UDP/ICMP packets: CIDRs (v4, v6,
 *              nested across rules, local and remote), port ranges, protocols, directions,
 *              IPv6 extension headers and fragments, updates without reload, exemptions
 *   prefixes   10,000 random IPv4 prefixes against a brute-force reference; 10,000 of four
 *              lengths (the hash tables), also with the trie emptied behind the agent's back
 *   stats      loss 1/10/50 % on both hooks, corruption and duplication 10 %: exact binomial
 *              intervals; Gilbert-Elliott loss ratio and mean burst length within 10 %
 *   delay      EDT departure times (BPF_PROG_TEST_RUN's ctx_out.tstamp): uniform and normal
 *              (netem's table) moments, correlation, the time already on the packet
 *   deadline   a rule lapses at its lease deadline with no help from user space, within the
 *              deadline clock's documented lead, and a renewal puts it back in force
 *   counters   every check above also compares the rule counters with what happened
 *   lo         real traffic on lo: egress loss is silent to the sender (no ENOBUFS),
 *              duplication makes exactly one copy per hook (the loop guard)
 *   tc         attach/detach leave clsact and foreign filters as found; crash recovery
 *              removes only our filters
 *   share      one instance on two interfaces (lo and a veth): rules through one act on both;
 *              netfault_unshare() gives one its own, attached in place, rules, deadline and
 *              exemption copied, and the two change apart
 *   ifb        crash recovery deletes our IFB devices (also one a crash left half made),
 *              never anybody else's
 *
 * Flake budget: the binomial checks are the only random ones that can fail by chance; each
 * uses the two-sided interval at level 0.001/K (K = STAT_CHECKS), so one run of this test
 * fails by chance with probability at most 0.1 %. Each result is also reported against the
 * plain 99.9 % interval. The Gilbert-Elliott checks are at least 6.8 standard deviations wide
 * (simulated standard deviations are in docs/netfault.md), so their chance failure is < 1e-11.
 * Exit 0 pass, 1 fail, 77 skipped (not root, no BPF or no clsact/cls_bpf).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include "log.h"
#include "netfault.h"
#include "probe.skel.h"
#include "tc.h"

#define SKIP 77
#define LO 1 /* ifindex of lo in a fresh namespace */

/* Binomial checks in this test, for the family-wise flake budget of 0.1 %. */
#define STAT_CHECKS 8
#define STAT_ALPHA 0.001
#define STAT_N 20000
#define GE_N 200000

static int failures;
static const char *section = "";

#define CHECK(cond, ...)                                                                      \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			failures++;                                                           \
			fprintf(stderr, "FAIL [%s] %s:%d: %s: ", section, __FILE__, __LINE__, \
				#cond);                                                       \
			fprintf(stderr, __VA_ARGS__);                                         \
			fputc('\n', stderr);                                                  \
		}                                                                             \
	} while (0)

/* A setup step that must work for the rest of a section to mean anything. */
#define REQUIRE_OK(expr)                                                                          \
	do {                                                                                      \
		int _e = (expr);                                                                  \
		if (_e) {                                                                         \
			failures++;                                                               \
			fprintf(stderr, "FAIL [%s] %s:%d: %s: %s\n", section, __FILE__, __LINE__, \
				#expr, strerror(_e < 0 ? -_e : _e));                              \
			goto out;                                                                 \
		}                                                                                 \
	} while (0)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: the test's own reproducible randomness (the seed is printed). */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* ---- packets ----------------------------------------------------------------------------- */

struct pkt_spec {
	int family;
	uint8_t proto;
	const char *src, *dst;
	uint16_t sport, dport;
	unsigned int payload; /* bytes after the L4 header */
	unsigned int v6_ext;  /* IPv6: hop-by-hop and destination options headers (0..2) */
	bool frag_nonfirst;   /* a fragment that does not carry the L4 header */
	bool v6_frag_first;   /* IPv6: a fragment header with offset 0 */
};

static size_t l4_hdr_len(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 20 : 8;
}

/* Ethernet + IP (+ IPv6 extension headers) + L4 header + payload; returns the length. */
static size_t pkt_build(const struct pkt_spec *ps, uint8_t *buf, size_t cap, size_t *l3_end)
{
	size_t off = ETH_HLEN, l4, len;
	uint8_t *p;

	memset(buf, 0, cap);
	memcpy(buf, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	if (ps->family == AF_INET) {
		buf[12] = 0x08, buf[13] = 0x00;
		p = buf + off;
		p[0] = 0x45;
		p[8] = 64;
		p[9] = ps->proto;
		if (ps->frag_nonfirst)
			p[6] = 0x00, p[7] = 100; /* offset 800 bytes */
		inet_pton(AF_INET, ps->src, p + 12);
		inet_pton(AF_INET, ps->dst, p + 16);
		l4 = off + 20;
	} else {
		uint8_t *nh;

		buf[12] = 0x86, buf[13] = 0xdd;
		p = buf + off;
		p[0] = 0x60;
		p[7] = 64;
		inet_pton(AF_INET6, ps->src, p + 8);
		inet_pton(AF_INET6, ps->dst, p + 24);
		nh = &p[6];
		l4 = off + 40;
		for (unsigned int i = 0; i < ps->v6_ext; i++) {
			*nh = i == 0 ? IPPROTO_HOPOPTS : IPPROTO_DSTOPTS;
			nh = &buf[l4];
			buf[l4 + 1] = 0; /* 8 bytes */
			buf[l4 + 2] = 1; /* PadN */
			buf[l4 + 3] = 4;
			l4 += 8;
		}
		if (ps->frag_nonfirst || ps->v6_frag_first) {
			*nh = IPPROTO_FRAGMENT;
			nh = &buf[l4];
			if (ps->frag_nonfirst)
				buf[l4 + 3] = 100 << 3 & 0xff, buf[l4 + 2] = (100 << 3) >> 8;
			l4 += 8;
		}
		*nh = ps->proto;
	}
	*l3_end = l4;
	if (!ps->frag_nonfirst) {
		uint8_t *h = buf + l4;

		switch (ps->proto) {
		case IPPROTO_TCP:
			h[12] = 5 << 4;
			/* fall through */
		case IPPROTO_UDP:
			h[0] = ps->sport >> 8, h[1] = ps->sport & 0xff;
			h[2] = ps->dport >> 8, h[3] = ps->dport & 0xff;
			break;
		case IPPROTO_ICMP:
			h[0] = 8; /* echo request */
			break;
		case IPPROTO_ICMPV6:
			h[0] = 128;
			break;
		}
	}
	len = l4 + l4_hdr_len(ps->proto) + ps->payload;
	if (ps->family == AF_INET) {
		buf[ETH_HLEN + 2] = (len - ETH_HLEN) >> 8;
		buf[ETH_HLEN + 3] = (len - ETH_HLEN) & 0xff;
	} else {
		buf[ETH_HLEN + 4] = (len - ETH_HLEN - 40) >> 8;
		buf[ETH_HLEN + 5] = (len - ETH_HLEN - 40) & 0xff;
	}
	for (size_t i = l4 + l4_hdr_len(ps->proto); i < len; i++)
		buf[i] = (uint8_t)i;
	return len;
}

/*
 * A packet as a hook sees it: on ingress the remote end is the source, on egress the
 * destination.
 */
struct flow {
	int family;
	uint8_t proto;
	const char *remote, *local;
	uint16_t rport, lport;
};

static size_t flow_pkt(enum netfault_hook h, const struct flow *f, uint8_t *buf, size_t cap)
{
	struct pkt_spec ps = {
		.family = f->family,
		.proto = f->proto,
		.payload = 32,
	};
	size_t l3;

	if (h == NETFAULT_HOOK_INGRESS) {
		ps.src = f->remote, ps.dst = f->local;
		ps.sport = f->rport, ps.dport = f->lport;
	} else {
		ps.src = f->local, ps.dst = f->remote;
		ps.sport = f->lport, ps.dport = f->rport;
	}
	return pkt_build(&ps, buf, cap, &l3);
}

/* Run a hook's program once; the tc verdict, or INT_MIN when the run itself failed. */
static int run_prog(struct netfault *nf, enum netfault_hook h, const void *pkt, size_t len,
		    void *out, size_t out_cap)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = len, .data_out = out,
		    .data_size_out = out ? out_cap : 0, .repeat = 1);

	if (bpf_prog_test_run_opts(netfault_prog_fd(nf, h), &opts))
		return -1000 - errno;
	return (int)opts.retval;
}

static const int drop_verdict[NETFAULT_HOOK__COUNT] = {
	[NETFAULT_HOOK_INGRESS] = TC_ACT_SHOT,
	[NETFAULT_HOOK_EGRESS] = TC_ACT_STOLEN,
};

/* 1 dropped, 0 passed (TC_ACT_UNSPEC), -1 anything else (reported). */
static int verdict(struct netfault *nf, enum netfault_hook h, const struct flow *f)
{
	uint8_t buf[256];
	size_t len = flow_pkt(h, f, buf, sizeof(buf));
	int v = run_prog(nf, h, buf, len, NULL, 0);

	if (v == drop_verdict[h])
		return 1;
	if (v == TC_ACT_UNSPEC)
		return 0;
	fprintf(stderr, "unexpected verdict %d\n", v);
	return -1;
}

static const char *hook_name(enum netfault_hook h)
{
	return h == NETFAULT_HOOK_INGRESS ? "ingress" : "egress";
}

static const char *verdict_name(int v)
{
	return v == 1 ? "drop" : v == 0 ? "pass" : "error";
}

#define EXPECT_VERDICT(nf, h, f, want)                                                          \
	do {                                                                                    \
		int _v = verdict(nf, h, f);                                                     \
		CHECK(_v == (want), "%s %s -> %s ports r%u l%u: got %s, want %s", hook_name(h), \
		      (f)->remote, (f)->local, (f)->rport, (f)->lport, verdict_name(_v),        \
		      verdict_name(want));                                                      \
	} while (0)

static struct netfault_cidr cidr(const char *s)
{
	struct netfault_cidr c;

	if (netfault_cidr_parse(s, &c)) {
		fprintf(stderr, "bad CIDR in the test: %s\n", s);
		exit(1);
	}
	return c;
}

static struct netfault_counters counters(struct netfault *nf, int slot)
{
	struct netfault_counters c;
	int err = netfault_rule_counters(nf, slot, &c);

	CHECK(!err, "reading counters of slot %d: %s", slot, strerror(-err));
	return c;
}

/* ---- statistics -------------------------------------------------------------------------- */

/*
 * Exact two-sided interval of X ~ Binomial(n, p): P(X < lo) < alpha/2, P(X > hi) <= alpha/2.
 * The pmf is built by its ratio recurrence outward from the mode (no libm needed); terms that
 * underflow to 0 are far outside any interval of interest.
 */
static int binom_interval(long n, double p, double alpha, long *lo, long *hi)
{
	double *w = malloc((n + 1) * sizeof(*w)), total = 0, acc = 0;
	long mode = (long)((n + 1) * p), k;

	if (!w)
		return -ENOMEM;
	if (mode > n)
		mode = n;
	w[mode] = 1.0;
	for (k = mode; k < n; k++)
		w[k + 1] = w[k] * (double)(n - k) / (double)(k + 1) * p / (1 - p);
	for (k = mode; k > 0; k--)
		w[k - 1] = w[k] * (double)k / (double)(n - k + 1) * (1 - p) / p;
	for (k = 0; k <= n; k++)
		total += w[k];
	for (k = 0; k <= n; k++) {
		acc += w[k];
		if (acc / total >= alpha / 2)
			break;
	}
	*lo = k;
	acc = 0;
	for (k = n; k >= 0; k--) {
		acc += w[k];
		if (acc / total > alpha / 2)
			break;
	}
	*hi = k;
	free(w);
	return 0;
}

/* One binomial check at the corrected level, also reported against the plain 99.9 %. */
static void check_binomial(const char *what, long n, double p, long x)
{
	long lo, hi, lo1, hi1;

	if (binom_interval(n, p, STAT_ALPHA / STAT_CHECKS, &lo, &hi) ||
	    binom_interval(n, p, STAT_ALPHA, &lo1, &hi1)) {
		CHECK(0, "out of memory");
		return;
	}
	printf("  %-28s %6ld / %ld = %.4f (p = %.2f); 99.9%% interval [%ld, %ld] %s; "
	       "checked against [%ld, %ld] (level 0.001/%d)\n",
	       what, x, n, (double)x / n, p, lo1, hi1, x >= lo1 && x <= hi1 ? "inside" : "OUTSIDE",
	       lo, hi, STAT_CHECKS);
	CHECK(x >= lo && x <= hi, "%s: %ld of %ld outside [%ld, %ld]", what, x, n, lo, hi);
}

/* ---- sections ---------------------------------------------------------------------------- */

static struct netfault *open_nf(void)
{
	struct netfault *nf;
	int err = netfault_open(LO, &nf);

	CHECK(!err, "netfault_open: %s", strerror(-err));
	return err ? NULL : nf;
}

static void test_classify(void)
{
	struct netfault_cidr r16 = cidr("10.1.0.0/16"), r6 = cidr("2001:db8:1::/48");
	struct netfault_cidr loc = cidr("192.0.2.0/24");
	struct netfault_rule_spec spec;
	struct netfault *nf;
	int s1, s2, s3;
	const enum netfault_hook IN = NETFAULT_HOOK_INGRESS, OUT = NETFAULT_HOOK_EGRESS;
	struct flow f;

	section = "classify";
	nf = open_nf();
	if (!nf)
		return;

	/* Nothing in force: everything passes. */
	f = (struct flow){AF_INET, IPPROTO_UDP, "10.1.2.3", "192.0.2.1", 53, 4000};
	EXPECT_VERDICT(nf, IN, &f, 0);
	EXPECT_VERDICT(nf, OUT, &f, 0);

	/* IPv4 remote CIDR, egress only. */
	spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_EGRESS,
					   .action = NETFAULT_ACT_PARTITION,
					   .remote = &r16,
					   .n_remote = 1};
	REQUIRE_OK(netfault_rule_add(nf, &spec, &s1));
	EXPECT_VERDICT(nf, OUT, &f, 1);
	EXPECT_VERDICT(nf, IN, &f, 0); /* direction */
	f.remote = "10.2.0.1";
	EXPECT_VERDICT(nf, OUT, &f, 0);
	f.remote = "10.1.255.255";
	EXPECT_VERDICT(nf, OUT, &f, 1);
	f = (struct flow){AF_INET6, IPPROTO_UDP, "2001:db8:1::5", "2001:db8:ff::1", 53, 4000};
	EXPECT_VERDICT(nf, OUT, &f, 0); /* an IPv4-only rule leaves IPv6 alone */
	REQUIRE_OK(netfault_rule_remove(nf, s1));

	/* IPv6 remote CIDR, both directions. */
	spec.dirs = NETFAULT_DIR_BOTH;
	spec.remote = &r6;
	REQUIRE_OK(netfault_rule_add(nf, &spec, &s1));
	EXPECT_VERDICT(nf, IN, &f, 1);
	EXPECT_VERDICT(nf, OUT, &f, 1);
	f.remote = "2001:db8:2::5";
	EXPECT_VERDICT(nf, IN, &f, 0);
	f.remote = "2001:db8:1:ffff:ffff:ffff:ffff:ffff";
	EXPECT_VERDICT(nf, IN, &f, 1);
	f = (struct flow){AF_INET, IPPROTO_UDP, "10.1.2.3", "192.0.2.1", 53, 4000};
	EXPECT_VERDICT(nf, IN, &f, 0);
	REQUIRE_OK(netfault_rule_remove(nf, s1));

	/* Local CIDR, egress: the source address. */
	spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_BOTH,
					   .action = NETFAULT_ACT_PARTITION,
					   .local = &loc,
					   .n_local = 1};
	REQUIRE_OK(netfault_rule_add(nf, &spec, &s1));
	f = (struct flow){AF_INET, IPPROTO_TCP, "203.0.113.9", "192.0.2.77", 443, 5555};
	EXPECT_VERDICT(nf, OUT, &f, 1);
	EXPECT_VERDICT(nf, IN, &f, 1);
	f.local = "198.51.100.1";
	EXPECT_VERDICT(nf, OUT, &f, 0);
	EXPECT_VERDICT(nf, IN, &f, 0);
	REQUIRE_OK(netfault_rule_remove(nf, s1));

	/* Remote port range and protocol, any address. */
	spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_BOTH,
					   .action = NETFAULT_ACT_PARTITION,
					   .proto = IPPROTO_UDP,
					   .rport_min = 1000,
					   .rport_max = 2000};
	REQUIRE_OK(netfault_rule_add(nf, &spec, &s1));
	f = (struct flow){AF_INET, IPPROTO_UDP, "10.9.9.9", "192.0.2.1", 999, 1500};
	EXPECT_VERDICT(nf, OUT, &f, 0);
	EXPECT_VERDICT(nf, IN, &f, 0);
	f.rport = 1000;
	EXPECT_VERDICT(nf, OUT, &f, 1);
	EXPECT_VERDICT(nf, IN, &f, 1);
	f.rport = 2000;
	EXPECT_VERDICT(nf, OUT, &f, 1);
	f.rport = 2001;
	EXPECT_VERDICT(nf, OUT, &f, 0);
	f.rport = 1500;
	f.proto = IPPROTO_TCP;
	EXPECT_VERDICT(nf, OUT, &f, 0); /* protocol */
	f = (struct flow){AF_INET6, IPPROTO_UDP, "2001:db8::9", "2001:db8::1", 1500, 7};
	EXPECT_VERDICT(nf, IN, &f, 1);
	REQUIRE_OK(netfault_rule_remove(nf, s1));

	/* Local port range, TCP, ingress only. */
	spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_INGRESS,
					   .action = NETFAULT_ACT_PARTITION,
					   .proto = IPPROTO_TCP,
					   .lport_min = 80,
					   .lport_max = 80};
	REQUIRE_OK(netfault_rule_add(nf, &spec, &s1));
	f = (struct flow){AF_INET, IPPROTO_TCP, "10.9.9.9", "192.0.2.1", 40000, 80};
	EXPECT_VERDICT(nf, IN, &f, 1);
	EXPECT_VERDICT(nf, OUT, &f, 0);
	f.lport = 81;
	EXPECT_VERDICT(nf, IN, &f, 0);
	REQUIRE_OK(netfault_rule_remove(nf, s1));

	/* Protocols without ports: ICMP and ICMPv6 are told apart. */
	spec = (struct netfault_rule_spec){
		.dirs = NETFAULT_DIR_BOTH, .action = NETFAULT_ACT_PARTITION, .proto = IPPROTO_ICMP};
	REQUIRE_OK(netfault_rule_add(nf, &spec, &s1));
	f = (struct flow){AF_INET, IPPROTO_ICMP, "10.9.9.9", "192.0.2.1", 0, 0};
	EXPECT_VERDICT(nf, IN, &f, 1);
	f.proto = IPPROTO_UDP;
	EXPECT_VERDICT(nf, IN, &f, 0);
	f = (struct flow){AF_INET6, IPPROTO_ICMPV6, "2001:db8::9", "2001:db8::1", 0, 0};
	EXPECT_VERDICT(nf, IN, &f, 0);
	spec.proto = IPPROTO_ICMPV6;
	REQUIRE_OK(netfault_rule_update(nf, s1, &spec));
	EXPECT_VERDICT(nf, IN, &f, 1);
	REQUIRE_OK(netfault_rule_remove(nf, s1));

	/* IPv6 extension headers are walked for ports; non-first fragments have none. */
	{
		uint8_t buf[256];
		size_t len, l3;
		struct pkt_spec ps = {.family = AF_INET6,
				      .proto = IPPROTO_UDP,
				      .src = "2001:db8::1",
				      .dst = "2001:db8::53",
				      .sport = 4000,
				      .dport = 53,
				      .payload = 16,
				      .v6_ext = 2};
		struct netfault_cidr any6 = cidr("2001:db8::53/128");

		spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_EGRESS,
						   .action = NETFAULT_ACT_PARTITION,
						   .proto = IPPROTO_UDP,
						   .rport_min = 53,
						   .rport_max = 53};
		REQUIRE_OK(netfault_rule_add(nf, &spec, &s1));
		spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_EGRESS,
						   .action = NETFAULT_ACT_LOSS,
						   .prob = 0,
						   .remote = &any6,
						   .n_remote = 1};
		REQUIRE_OK(netfault_rule_add(nf, &spec, &s2));
		len = pkt_build(&ps, buf, sizeof(buf), &l3);
		CHECK(run_prog(nf, OUT, buf, len, NULL, 0) == TC_ACT_STOLEN,
		      "UDP after hop-by-hop + dstopts headers: port not matched");
		ps.v6_ext = 1;
		ps.v6_frag_first = true;
		len = pkt_build(&ps, buf, sizeof(buf), &l3);
		CHECK(run_prog(nf, OUT, buf, len, NULL, 0) == TC_ACT_STOLEN,
		      "UDP in a first fragment: port not matched");
		ps.v6_frag_first = false;
		ps.frag_nonfirst = true;
		len = pkt_build(&ps, buf, sizeof(buf), &l3);
		CHECK(run_prog(nf, OUT, buf, len, NULL, 0) == TC_ACT_UNSPEC,
		      "a non-first fragment matched a port rule");
		CHECK(counters(nf, s2).matched == 1,
		      "the address-only rule should match the non-first fragment once: %llu",
		      (unsigned long long)counters(nf, s2).matched);
		ps = (struct pkt_spec){.family = AF_INET,
				       .proto = IPPROTO_UDP,
				       .src = "10.0.0.1",
				       .dst = "10.0.0.2",
				       .sport = 4000,
				       .dport = 53,
				       .payload = 16,
				       .frag_nonfirst = true};
		len = pkt_build(&ps, buf, sizeof(buf), &l3);
		CHECK(run_prog(nf, OUT, buf, len, NULL, 0) == TC_ACT_UNSPEC,
		      "an IPv4 non-first fragment matched a port rule");
		ps.frag_nonfirst = false;
		len = pkt_build(&ps, buf, sizeof(buf), &l3);
		CHECK(run_prog(nf, OUT, buf, len, NULL, 0) == TC_ACT_STOLEN,
		      "IPv4 UDP to port 53 not matched");
		REQUIRE_OK(netfault_rule_remove(nf, s1));
		REQUIRE_OK(netfault_rule_remove(nf, s2));
	}

	/*
	 * Nested prefixes in different rules: a trie returns only the longest match, so each
	 * prefix must carry the rules of the prefixes containing it. Rules that never drop
	 * (loss 0) show which matched through their counters.
	 */
	{
		struct netfault_cidr a = cidr("10.0.0.0/8"), b = cidr("10.1.2.0/24"),
				     c[2] = {cidr("10.1.2.128/25"), cidr("2001:db8::/32")};
		static const struct {
			const char *addr;
			int a, b, c;
		} probes[] = {
			{"10.1.2.200", 1, 1, 1}, {"10.1.2.5", 1, 1, 0},	   {"10.9.9.9", 1, 0, 0},
			{"11.0.0.1", 0, 0, 0},	 {"2001:db8::1", 0, 0, 1},
		};
		struct netfault_counters ca, cb, cc;
		unsigned int prog_id_before, prog_id_after;
		struct bpf_prog_info info;
		__u32 ilen = sizeof(info);

		spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_EGRESS,
						   .action = NETFAULT_ACT_LOSS,
						   .prob = 0,
						   .remote = &a,
						   .n_remote = 1};
		REQUIRE_OK(netfault_rule_add(nf, &spec, &s1));
		spec.remote = &b;
		REQUIRE_OK(netfault_rule_add(nf, &spec, &s2));
		spec.remote = c;
		spec.n_remote = 2;
		REQUIRE_OK(netfault_rule_add(nf, &spec, &s3));
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			bool v6 = strchr(probes[i].addr, ':');

			f = (struct flow){v6 ? AF_INET6 : AF_INET,
					  IPPROTO_UDP,
					  probes[i].addr,
					  v6 ? "2001:db8:ffff::1" : "192.0.2.1",
					  9,
					  9};
			EXPECT_VERDICT(nf, OUT, &f, 0);
		}
		ca = counters(nf, s1), cb = counters(nf, s2), cc = counters(nf, s3);
		CHECK(ca.matched == 3 && cb.matched == 2 && cc.matched == 2 && !ca.dropped,
		      "nested prefixes: matched %llu %llu %llu, want 3 2 2",
		      (unsigned long long)ca.matched, (unsigned long long)cb.matched,
		      (unsigned long long)cc.matched);

		/* Updates take effect in the maps, the program stays the same. */
		memset(&info, 0, sizeof(info));
		bpf_obj_get_info_by_fd(netfault_prog_fd(nf, OUT), &info, &ilen);
		prog_id_before = info.id;
		spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_EGRESS,
						   .action = NETFAULT_ACT_PARTITION,
						   .remote = &b,
						   .n_remote = 1};
		REQUIRE_OK(netfault_rule_update(nf, s1, &spec)); /* 10/8 loss 0 -> 10.1.2/24 drop */
		f = (struct flow){AF_INET, IPPROTO_UDP, "10.1.2.5", "192.0.2.1", 9, 9};
		EXPECT_VERDICT(nf, OUT, &f, 1);
		f.remote = "10.9.9.9";
		EXPECT_VERDICT(nf, OUT, &f, 0);
		ca = counters(nf, s1);
		CHECK(ca.matched == 4 && ca.dropped == 1, "after update: matched %llu dropped %llu",
		      (unsigned long long)ca.matched, (unsigned long long)ca.dropped);
		spec.remote = NULL, spec.n_remote = 0; /* any address */
		REQUIRE_OK(netfault_rule_update(nf, s1, &spec));
		EXPECT_VERDICT(nf, OUT, &f, 1);
		REQUIRE_OK(netfault_rule_remove(nf, s1));
		EXPECT_VERDICT(nf, OUT, &f, 0);
		f.remote = "10.1.2.200";
		EXPECT_VERDICT(nf, OUT, &f, 0);
		cc = counters(nf, s3);
		CHECK(cc.matched == 3, "10.1.2.128/25 rule after removing another: matched %llu",
		      (unsigned long long)cc.matched);
		memset(&info, 0, sizeof(info));
		ilen = sizeof(info);
		bpf_obj_get_info_by_fd(netfault_prog_fd(nf, OUT), &info, &ilen);
		prog_id_after = info.id;
		CHECK(prog_id_before == prog_id_after && prog_id_before,
		      "program reloaded: id %u -> %u", prog_id_before, prog_id_after);
		REQUIRE_OK(netfault_rule_remove(nf, s2));
		REQUIRE_OK(netfault_rule_remove(nf, s3));
	}

	/* Validation and capacity. */
	spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_BOTH,
					   .action = NETFAULT_ACT_LOSS,
					   .proto = IPPROTO_ICMP,
					   .rport_max = 10};
	CHECK(netfault_rule_add(nf, &spec, &s1) == -EINVAL, "ports with ICMP accepted");
	spec = (struct netfault_rule_spec){.dirs = 0, .action = NETFAULT_ACT_LOSS};
	CHECK(netfault_rule_add(nf, &spec, &s1) == -EINVAL, "no direction accepted");
	spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_INGRESS, .action = 99};
	CHECK(netfault_rule_add(nf, &spec, &s1) == -EINVAL, "unknown action accepted");
	spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_INGRESS,
					   .action = NETFAULT_ACT_LOSS};
	for (int i = 0; i < NETFAULT_MAX_RULES; i++) {
		int s;

		REQUIRE_OK(netfault_rule_add(nf, &spec, &s));
		CHECK(s == i, "slot %d for rule %d", s, i);
	}
	CHECK(netfault_rule_add(nf, &spec, &s1) == -ENOSPC, "rule %d accepted",
	      NETFAULT_MAX_RULES + 1);
	CHECK(netfault_rule_remove(nf, 7) == 0 && netfault_rule_add(nf, &spec, &s1) == 0 && s1 == 7,
	      "a freed slot is reused");
out:
	netfault_close(nf);
}

static void test_exempt(void)
{
	const enum netfault_hook IN = NETFAULT_HOOK_INGRESS, OUT = NETFAULT_HOOK_EGRESS;
	struct netfault_rule_spec spec = {.dirs = NETFAULT_DIR_BOTH,
					  .action = NETFAULT_ACT_PARTITION};
	struct netfault_exempt ssh, any, full, v6;
	struct netfault_counters c;
	struct netfault *nf;
	struct flow f;
	int s;

	section = "exempt";
	nf = open_nf();
	if (!nf)
		return;
	REQUIRE_OK(netfault_rule_add(nf, &spec, &s));
	REQUIRE_OK(netfault_exempt_parse_ssh("10.9.1.1 40000 10.0.0.1 22", &ssh));
	ssh.remote_port = 0; /* any client port of 10.9.1.1 */
	ssh.remote = cidr("10.9.0.0/16");
	REQUIRE_OK(netfault_exempt_add(nf, &ssh));
	CHECK(netfault_exempt_add(nf, &ssh) == -EEXIST, "duplicate exemption accepted");

	f = (struct flow){AF_INET, IPPROTO_TCP, "10.9.1.1", "10.0.0.1", 40000, 22};
	EXPECT_VERDICT(nf, IN, &f, 0);
	EXPECT_VERDICT(nf, OUT, &f, 0);
	f.remote = "10.10.1.1";
	EXPECT_VERDICT(nf, IN, &f, 1);
	f.remote = "10.9.1.1";
	f.lport = 23;
	EXPECT_VERDICT(nf, IN, &f, 1);
	f.lport = 22;
	f.proto = IPPROTO_UDP;
	EXPECT_VERDICT(nf, IN, &f, 1);
	c = counters(nf, s);
	CHECK(c.exempted == 2 && c.matched == 3 && c.dropped == 3,
	      "counters exempted %llu matched %llu dropped %llu, want 2 3 3",
	      (unsigned long long)c.exempted, (unsigned long long)c.matched,
	      (unsigned long long)c.dropped);

	/* The experiment opts in: exempt flows are faulted too. */
	spec.fault_exempt = true;
	REQUIRE_OK(netfault_rule_update(nf, s, &spec));
	f.proto = IPPROTO_TCP;
	EXPECT_VERDICT(nf, IN, &f, 1);
	spec.fault_exempt = false;
	REQUIRE_OK(netfault_rule_update(nf, s, &spec));
	EXPECT_VERDICT(nf, IN, &f, 0);
	REQUIRE_OK(netfault_exempt_remove(nf, &ssh));
	CHECK(netfault_exempt_remove(nf, &ssh) == -ENOENT, "removing twice");
	EXPECT_VERDICT(nf, IN, &f, 1);

	/* A full 5-tuple, IPv6, and "this whole address range" exemptions. */
	REQUIRE_OK(netfault_exempt_parse_ssh("10.9.1.1 40000 10.0.0.1 22", &full));
	REQUIRE_OK(netfault_exempt_add(nf, &full));
	EXPECT_VERDICT(nf, IN, &f, 0);
	f.rport = 40001;
	EXPECT_VERDICT(nf, IN, &f, 1);
	REQUIRE_OK(netfault_exempt_parse_ssh("2001:db8::77 50000 2001:db8::1 22", &v6));
	REQUIRE_OK(netfault_exempt_add(nf, &v6));
	f = (struct flow){AF_INET6, IPPROTO_TCP, "2001:db8::77", "2001:db8::1", 50000, 22};
	EXPECT_VERDICT(nf, IN, &f, 0);
	EXPECT_VERDICT(nf, OUT, &f, 0);
	f.remote = "2001:db8::78";
	EXPECT_VERDICT(nf, IN, &f, 1);
	any = (struct netfault_exempt){.remote = cidr("2001:db8::/64")};
	REQUIRE_OK(netfault_exempt_add(nf, &any));
	EXPECT_VERDICT(nf, IN, &f, 0);
	f = (struct flow){AF_INET, IPPROTO_ICMP, "10.9.1.1", "10.0.0.1", 0, 0};
	EXPECT_VERDICT(nf, IN, &f, 1); /* the IPv6 range does not cover IPv4 */
	any = (struct netfault_exempt){.remote = {.family = AF_UNSPEC}};
	REQUIRE_OK(netfault_exempt_add(nf, &any));
	EXPECT_VERDICT(nf, IN, &f, 0);
	any.proto = 0, any.local_port = 22;
	CHECK(netfault_exempt_add(nf, &any) == -EINVAL, "ports without a protocol accepted");
out:
	netfault_close(nf);
}

/* A new fd of the program's map with this name (behind the agent's back), or -1. */
static int map_fd(struct netfault *nf, const char *name)
{
	struct bpf_prog_info info;
	__u32 ids[32], len = sizeof(info);

	memset(&info, 0, sizeof(info));
	info.nr_map_ids = 32;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(netfault_prog_fd(nf, NETFAULT_HOOK_EGRESS), &info, &len))
		return -1;
	for (__u32 i = 0; i < info.nr_map_ids && i < 32; i++) {
		struct bpf_map_info mi;
		__u32 mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		memset(&mi, 0, sizeof(mi));
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) && !strcmp(mi.name, name))
			return fd;
		close(fd);
	}
	return -1;
}

/* Is addr (host order) inside a/len? */
static bool in_prefix(uint32_t addr, uint32_t net, unsigned int len)
{
	uint32_t mask = len ? ~0u << (32 - len) : 0;

	return (addr & mask) == (net & mask);
}

enum { NPFX_RULES = 4, NPFX = 10000, NPROBE = 20000 };

struct pfx_set {
	struct netfault_cidr cidr[NPFX / NPFX_RULES];
	uint32_t net[NPFX / NPFX_RULES]; /* host order */
	unsigned int len[NPFX / NPFX_RULES];
};

/* Random IPv4 prefixes /10../32: the short ones nest others within and across rules. */
static void pfx_set_fill(struct pfx_set *ps)
{
	for (int i = 0; i < NPFX / NPFX_RULES; i++) {
		uint32_t be;

		ps->len[i] = 10 + rng() % 23;
		ps->net[i] = (uint32_t)rng() & (~0u << (32 - ps->len[i]));
		ps->cidr[i] = (struct netfault_cidr){.family = AF_INET, .prefixlen = ps->len[i]};
		be = htonl(ps->net[i]);
		memcpy(ps->cidr[i].addr, &be, 4);
	}
}

/*
 * Probe addresses (half inside a random prefix of a random set) against the rules of the live
 * sets; each rule drops nothing (loss 0), so its matched counter says whether it matched.
 * Returns the number of misclassified (probe, rule) pairs; counts probes inside any set.
 */
static int pfx_probe(struct netfault *nf, struct pfx_set *sets, const int *slots, int nprobe,
		     int *inside)
{
	uint64_t before[NPFX_RULES];
	uint8_t buf[128];
	int wrong = 0;

	for (int r = 0; r < NPFX_RULES; r++)
		if (slots[r] >= 0)
			before[r] = counters(nf, slots[r]).matched;
	for (int i = 0; i < nprobe; i++) {
		char remote[INET_ADDRSTRLEN];
		uint32_t a = (uint32_t)rng(), be;
		bool any = false;
		struct flow f;
		size_t len;

		if (i % 2) {
			const struct pfx_set *ps = &sets[rng() % NPFX_RULES];
			int k = rng() % (NPFX / NPFX_RULES);

			a = ps->net[k] | (a & ~(~0u << (32 - ps->len[k])));
		}
		be = htonl(a);
		inet_ntop(AF_INET, &be, remote, sizeof(remote));
		f = (struct flow){AF_INET, IPPROTO_UDP, remote, "192.0.2.1", 9, 9};
		len = flow_pkt(NETFAULT_HOOK_EGRESS, &f, buf, sizeof(buf));
		if (run_prog(nf, NETFAULT_HOOK_EGRESS, buf, len, NULL, 0) != TC_ACT_UNSPEC) {
			wrong++;
			continue;
		}
		for (int r = 0; r < NPFX_RULES; r++) {
			bool want = false;
			uint64_t now;

			if (slots[r] < 0)
				continue;
			for (int k = 0; k < NPFX / NPFX_RULES && !want; k++)
				want = in_prefix(a, sets[r].net[k], sets[r].len[k]);
			any |= want;
			now = counters(nf, slots[r]).matched;
			if ((now != before[r]) != want && wrong++ < 5)
				CHECK(0, "%s: rule %d %s, the reference says it %s", remote, r,
				      now != before[r] ? "matched" : "did not match",
				      want ? "does" : "does not");
			before[r] = now;
		}
		*inside += any;
	}
	return wrong;
}

/*
 * 10,000 random IPv4 prefixes in 4 rules, nested within and across rules at random, checked
 * probe by probe and rule by rule against a brute-force reference; then again after removing
 * one rule and replacing another's prefixes (the incremental trie updates).
 */
static void test_many_prefixes(void)
{
	struct pfx_set *sets = calloc(NPFX_RULES, sizeof(*sets));
	int slots[NPFX_RULES], wrong, inside = 0, inside2 = 0;
	struct netfault_rule_spec spec;
	struct netfault *nf = NULL;
	double t0, t_add, t_probe, t_upd;

	section = "prefixes";
	if (!sets) {
		CHECK(0, "out of memory");
		return;
	}
	nf = open_nf();
	if (!nf)
		goto out;
	t0 = now_s();
	for (int r = 0; r < NPFX_RULES; r++) {
		pfx_set_fill(&sets[r]);
		spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_EGRESS,
						   .action = NETFAULT_ACT_LOSS,
						   .prob = 0,
						   .remote = sets[r].cidr,
						   .n_remote = NPFX / NPFX_RULES};
		REQUIRE_OK(netfault_rule_add(nf, &spec, &slots[r]));
	}
	t_add = now_s() - t0;
	t0 = now_s();
	wrong = pfx_probe(nf, sets, slots, NPROBE, &inside);
	t_probe = now_s() - t0;
	CHECK(!wrong, "%d misclassified (probe, rule) pairs of %d probes", wrong, NPROBE);

	/* Remove rule 1, give rule 2 new prefixes, probe again. */
	t0 = now_s();
	REQUIRE_OK(netfault_rule_remove(nf, slots[1]));
	slots[1] = -1;
	pfx_set_fill(&sets[2]);
	spec.remote = sets[2].cidr;
	REQUIRE_OK(netfault_rule_update(nf, slots[2], &spec));
	t_upd = now_s() - t0;
	memset(&sets[1], 0, sizeof(sets[1])); /* its probes now fall in no set (or another's) */
	wrong = pfx_probe(nf, sets, slots, NPROBE / 4, &inside2);
	CHECK(!wrong, "after the updates: %d misclassified (probe, rule) pairs", wrong);
	printf("  %d IPv4 prefixes in %d rules loaded in %.0f ms; %d probes (%d inside some rule) "
	       "matched the brute-force reference rule by rule (%.1f s); removing a rule and "
	       "replacing another's %d prefixes took %.0f ms, %d more probes (%d inside) right\n",
	       NPFX, NPFX_RULES, t_add * 1e3, NPROBE, inside, t_probe, NPFX / NPFX_RULES,
	       t_upd * 1e3, NPROBE / 4, inside2);
out:
	netfault_close(nf);
	free(sets);
}

/*
 * Random IPv4 prefixes inside 10.0.0.0/12 of the lengths /16, /24, /28 and /32 only: the
 * prefix hash tables' case (NETFAULT_HASH_LENS lengths), nested within and across rules.
 */
static void pfx_set_fill_few_lens(struct pfx_set *ps)
{
	static const unsigned int lens[] = {16, 24, 28, 32};

	for (int i = 0; i < NPFX / NPFX_RULES; i++) {
		uint32_t be;

		ps->len[i] = lens[rng() % 4];
		ps->net[i] = (0x0a000000u | ((uint32_t)rng() & 0x000fffffu)) &
			     (~0u << (32 - ps->len[i]));
		ps->cidr[i] = (struct netfault_cidr){.family = AF_INET, .prefixlen = ps->len[i]};
		be = htonl(ps->net[i]);
		memcpy(ps->cidr[i].addr, &be, 4);
	}
}

static int trie_empty(struct netfault *nf, int family);

/*
 * 10,000 IPv4 prefixes of four lengths in 4 rules (the hash tables answer), against the
 * brute-force reference; one rule's prefixes replaced by ones of 23 lengths (the trie answers
 * again), then by four lengths again; then the trie emptied behind the agent's back: every
 * probe still right, so the hash tables answered.
 */
static void test_hash_prefixes(void)
{
	struct pfx_set *sets = calloc(NPFX_RULES, sizeof(*sets));
	int slots[NPFX_RULES], wrong, inside[4] = {0};
	struct netfault_rule_spec spec;
	struct netfault *nf = NULL;

	section = "hash prefixes";
	if (!sets) {
		CHECK(0, "out of memory");
		return;
	}
	nf = open_nf();
	if (!nf)
		goto out;
	for (int r = 0; r < NPFX_RULES; r++) {
		pfx_set_fill_few_lens(&sets[r]);
		spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_EGRESS,
						   .action = NETFAULT_ACT_LOSS,
						   .prob = 0,
						   .remote = sets[r].cidr,
						   .n_remote = NPFX / NPFX_RULES};
		REQUIRE_OK(netfault_rule_add(nf, &spec, &slots[r]));
	}
	wrong = pfx_probe(nf, sets, slots, NPROBE / 4, &inside[0]);
	CHECK(!wrong, "four lengths: %d misclassified (probe, rule) pairs", wrong);
	pfx_set_fill(&sets[2]);
	spec.remote = sets[2].cidr;
	REQUIRE_OK(netfault_rule_update(nf, slots[2], &spec));
	wrong = pfx_probe(nf, sets, slots, NPROBE / 4, &inside[1]);
	CHECK(!wrong, "23 lengths in one rule: %d misclassified (probe, rule) pairs", wrong);
	pfx_set_fill_few_lens(&sets[2]);
	REQUIRE_OK(netfault_rule_update(nf, slots[2], &spec));
	wrong = pfx_probe(nf, sets, slots, NPROBE / 4, &inside[2]);
	CHECK(!wrong, "four lengths again: %d misclassified (probe, rule) pairs", wrong);
	REQUIRE_OK(trie_empty(nf, AF_INET));
	wrong = pfx_probe(nf, sets, slots, NPROBE / 4, &inside[3]);
	CHECK(!wrong, "trie emptied: %d misclassified (probe, rule) pairs", wrong);
	CHECK(inside[3] > NPROBE / 16, "only %d probes of %d inside a set", inside[3], NPROBE / 4);
	printf("  %d IPv4 prefixes of 4 lengths in %d rules: 4 x %d probes (%d, %d, %d, %d inside "
	       "some rule) as the reference: hash tables, one rule of 23 lengths (trie), 4 again, "
	       "the trie emptied (the hash tables answered)\n",
	       NPFX, NPFX_RULES, NPROBE / 4, inside[0], inside[1], inside[2], inside[3]);
out:
	netfault_close(nf);
	free(sets);
}

/* A prefix of a few-prefix rule set (test_inline_prefixes), address in network order. */
struct rpfx {
	uint8_t addr[16];
	unsigned int len;
};

static bool rpfx_has(const struct rpfx *p, const uint8_t *a)
{
	for (unsigned int b = 0; b < p->len; b++)
		if ((p->addr[b / 8] ^ a[b / 8]) & (0x80 >> (b % 8)))
			return false;
	return true;
}

/* A random address inside p (alen bytes; its bits past p->len random). */
static void rpfx_addr(const struct rpfx *p, uint8_t *a, unsigned int alen)
{
	for (unsigned int i = 0; i < alen; i++)
		a[i] = (uint8_t)rng();
	for (unsigned int b = 0; b < p->len; b++) {
		uint8_t bit = 0x80 >> (b % 8);

		a[b / 8] = (a[b / 8] & ~bit) | (p->addr[b / 8] & bit);
	}
}

enum { INL_MAX = NETFAULT_INLINE_PREFIXES + 1 };

/* The sets of test_inline_prefixes: rule 0 remote; rule 1 remote (0: any) and local. */
struct inl_sets {
	int family;
	unsigned int alen;
	struct rpfx base; /* every prefix lies in it, so they nest and probes hit */
	struct rpfx r0[INL_MAX], r1[INL_MAX], l1[INL_MAX];
	int n_r0, n_r1, n_l1;
};

static bool rpfx_any(const struct rpfx *v, int n, const uint8_t *a)
{
	for (int i = 0; i < n; i++)
		if (rpfx_has(&v[i], a))
			return true;
	return false;
}

/* Distinct prefixes in a and b together: a prefix two rules name is one entry. */
static int inl_distinct(const struct rpfx *a, int na, const struct rpfx *b, int nb)
{
	int n = 0;

	for (int i = 0; i < na + nb; i++) {
		const struct rpfx *p = i < na ? &a[i] : &b[i - na];
		bool seen = false;

		for (int j = 0; j < i && !seen; j++) {
			const struct rpfx *q = j < na ? &a[j] : &b[j - na];

			seen = p->len == q->len && !memcmp(p->addr, q->addr, sizeof(p->addr));
		}
		n += !seen;
	}
	return n;
}

/* A probe address: inside one of v (when n), else anywhere in the base prefix. */
static void inl_addr(const struct inl_sets *s, const struct rpfx *v, int n, uint8_t *a)
{
	rpfx_addr(n && rng() % 4 ? &v[rng() % n] : &s->base, a, s->alen);
}

/*
 * Probe egress packets against the two rules (loss 0: the matched counters say which
 * matched); with trie_empty, the sides holding more than NETFAULT_INLINE_PREFIXES prefixes
 * are expected to match nothing. The number of wrong (probe, rule) pairs.
 */
static int inl_probe(struct netfault *nf, const struct inl_sets *s, const int *slots,
		     bool trie_empty, int *hits)
{
	int wrong = 0;
	bool remote_inline =
		inl_distinct(s->r0, s->n_r0, s->r1, s->n_r1) <= NETFAULT_INLINE_PREFIXES ||
		!trie_empty;
	bool local_inline =
		inl_distinct(s->l1, s->n_l1, NULL, 0) <= NETFAULT_INLINE_PREFIXES || !trie_empty;
	uint64_t before[2] = {counters(nf, slots[0]).matched, counters(nf, slots[1]).matched};

	for (int i = 0; i < 400; i++) {
		char rs[INET6_ADDRSTRLEN], ls[INET6_ADDRSTRLEN];
		uint8_t ra[16], la[16], buf[256];
		bool want[2];
		struct flow f;
		size_t len;

		inl_addr(s, rng() % 2 ? s->r0 : s->r1, rng() % 2 ? s->n_r0 : s->n_r1, ra);
		inl_addr(s, s->l1, s->n_l1, la);
		want[0] = remote_inline && rpfx_any(s->r0, s->n_r0, ra);
		want[1] = (!s->n_r1 || (remote_inline && rpfx_any(s->r1, s->n_r1, ra))) &&
			  local_inline && rpfx_any(s->l1, s->n_l1, la);
		inet_ntop(s->family, ra, rs, sizeof(rs));
		inet_ntop(s->family, la, ls, sizeof(ls));
		f = (struct flow){s->family, IPPROTO_UDP, rs, ls, 9, 9};
		len = flow_pkt(NETFAULT_HOOK_EGRESS, &f, buf, sizeof(buf));
		if (run_prog(nf, NETFAULT_HOOK_EGRESS, buf, len, NULL, 0) != TC_ACT_UNSPEC) {
			wrong++;
			continue;
		}
		for (int r = 0; r < 2; r++) {
			uint64_t now = counters(nf, slots[r]).matched;

			if ((now != before[r]) != want[r] && wrong++ < 5)
				CHECK(0, "%s -> %s (%d+%d remote, %d local prefixes%s): rule %d %s",
				      ls, rs, s->n_r0, s->n_r1, s->n_l1,
				      trie_empty ? ", trie emptied" : "", r,
				      want[r] ? "did not match" : "matched");
			*hits += want[r];
			before[r] = now;
		}
	}
	return wrong;
}

/* Delete every entry of a map behind the agent's back (at most 100,000): 0, or -1. */
static int map_empty(struct netfault *nf, const char *name)
{
	uint8_t key[64];
	int fd = map_fd(nf, name), n = 0;

	if (fd < 0)
		return -1;
	while (!bpf_map_get_next_key(fd, NULL, key) && n++ < 100000)
		if (bpf_map_delete_elem(fd, key))
			break;
	n = bpf_map_get_next_key(fd, NULL, key) ? 0 : -1;
	close(fd);
	return n;
}

/* Delete every entry of the family's prefix trie behind the agent's back. */
static int trie_empty(struct netfault *nf, int family)
{
	return map_empty(nf, family == AF_INET ? "prefixes_v4" : "prefixes_v6");
}

/* The same for the family's prefix hash map. */
static int hash_empty(struct netfault *nf, int family)
{
	return map_empty(nf, family == AF_INET ? "prefixes_h4" : "prefixes_h6");
}

/*
 * Few prefixes (the inline tables of include/faultline/netfault.h) and one more than they
 * hold (the trie), IPv4 and IPv6, remote and local side, nested at random: probe by probe
 * against a brute-force reference. Then the trie is emptied behind the agent's back: the sets
 * that fit still match exactly as before (the program never asked the trie), the larger ones
 * match nothing (it did).
 */
static void test_inline_prefixes(void)
{
	struct inl_sets s;
	struct netfault_cidr r0[INL_MAX], r1[INL_MAX], l1[INL_MAX];
	struct netfault *nf = NULL;
	int wrong = 0, hits = 0, hits_emptied = 0, slots[2];

	section = "inline prefixes";
	for (int fam = 0; fam < 2; fam++) {
		for (int total = 1; total <= INL_MAX; total++) {
			struct netfault_rule_spec spec = {.dirs = NETFAULT_DIR_EGRESS,
							  .action = NETFAULT_ACT_LOSS,
							  .prob = 0};

			memset(&s, 0, sizeof(s));
			s.family = fam ? AF_INET6 : AF_INET;
			s.alen = fam ? 16 : 4;
			inet_pton(s.family, fam ? "2001:db8:77::" : "10.77.0.0", s.base.addr);
			s.base.len = fam ? 48 : 16;
			s.n_r0 = (total + 1) / 2;
			s.n_r1 = total - s.n_r0;
			s.n_l1 = total;
			for (int i = 0; i < total; i++) {
				struct rpfx *p = i < s.n_r0 ? &s.r0[i] : &s.r1[i - s.n_r0];
				struct rpfx *q = &s.l1[i];
				struct netfault_cidr *c = i < s.n_r0 ? &r0[i] : &r1[i - s.n_r0];

				/*
				 * Lengths base+0..base+8: short enough to nest often; drawn
				 * again while equal to an earlier one of its side, so the
				 * counts are the table's.
				 */
				for (int k = 0, tries = 0; k < 2 && tries < 1000; tries++) {
					struct rpfx *x = k ? q : p;

					rpfx_addr(&s.base, x->addr, s.alen);
					x->len = s.base.len + rng() % 9;
					for (unsigned int b = x->len; b < 8 * s.alen; b++)
						x->addr[b / 8] &= ~(0x80 >> (b % 8));
					if (k ? inl_distinct(s.l1, i + 1, NULL, 0) == i + 1
					      : inl_distinct(
							s.r0, i < s.n_r0 ? i + 1 : s.n_r0, s.r1,
							i < s.n_r0 ? 0 : i - s.n_r0 + 1) == i + 1)
						k++;
				}
				*c = (struct netfault_cidr){.family = s.family,
							    .prefixlen = p->len};
				memcpy(c->addr, p->addr, s.alen);
				l1[i] = (struct netfault_cidr){.family = s.family,
							       .prefixlen = q->len};
				memcpy(l1[i].addr, q->addr, s.alen);
			}
			nf = open_nf();
			if (!nf)
				goto out;
			spec.remote = r0, spec.n_remote = s.n_r0;
			REQUIRE_OK(netfault_rule_add(nf, &spec, &slots[0]));
			spec.remote = r1, spec.n_remote = s.n_r1;
			spec.local = l1, spec.n_local = s.n_l1;
			REQUIRE_OK(netfault_rule_add(nf, &spec, &slots[1]));
			wrong += inl_probe(nf, &s, slots, false, &hits);
			REQUIRE_OK(trie_empty(nf, s.family));
			REQUIRE_OK(hash_empty(nf, s.family));
			wrong += inl_probe(nf, &s, slots, true, &hits_emptied);
			netfault_close(nf);
			nf = NULL;
		}
	}
	CHECK(!wrong, "%d misclassified (probe, rule) pairs", wrong);
	CHECK(hits > 1000 && hits_emptied > 500, "too few probes matched to mean anything: %d, %d",
	      hits, hits_emptied);
	printf("  1..%d prefixes per side (IPv4, IPv6; %d fit inline): %d probes, %d rule "
	       "matches, all as the reference; with the trie and hash maps emptied the inline "
	       "sets still matched (%d), the larger ones nothing\n",
	       INL_MAX, NETFAULT_INLINE_PREFIXES, 2 * INL_MAX * 800, hits, hits_emptied);
out:
	netfault_close(nf);
}

/* Mean cost per packet of the program, from BPF_PROG_TEST_RUN with repeat. */
static double ns_per_packet(struct netfault *nf, const void *pkt, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = len, .repeat = 200000);

	if (bpf_prog_test_run_opts(netfault_prog_fd(nf, NETFAULT_HOOK_EGRESS), &opts))
		return -1;
	return opts.duration;
}

static void test_cost(void)
{
	struct netfault_cidr many[1000], one = cidr("10.1.0.0/16");
	struct netfault_rule_spec spec;
	struct netfault *nf;
	double idle, miss, hit;
	uint8_t buf[128];
	struct flow f = {AF_INET, IPPROTO_UDP, "192.0.2.9", "192.0.2.1", 9, 9};
	size_t len = flow_pkt(NETFAULT_HOOK_EGRESS, &f, buf, sizeof(buf));
	int s;

	section = "cost";
	nf = open_nf();
	if (!nf)
		return;
	idle = ns_per_packet(nf, buf, len);
	for (int i = 0; i < 1000; i++) {
		uint32_t a = htonl(0x0a000000u | (uint32_t)i << 8);

		many[i] = (struct netfault_cidr){.family = AF_INET, .prefixlen = 24};
		memcpy(many[i].addr, &a, 4);
	}
	spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_EGRESS,
					   .action = NETFAULT_ACT_LOSS,
					   .remote = many,
					   .n_remote = 1000};
	REQUIRE_OK(netfault_rule_add(nf, &spec, &s));
	miss = ns_per_packet(nf, buf, len);
	spec.remote = &one, spec.n_remote = 1;
	REQUIRE_OK(netfault_rule_update(nf, s, &spec));
	f.remote = "10.1.2.3";
	len = flow_pkt(NETFAULT_HOOK_EGRESS, &f, buf, sizeof(buf));
	hit = ns_per_packet(nf, buf, len);
	printf("  cost per packet (BPF_PROG_TEST_RUN, includes its own overhead): no rule %.0f ns, "
	       "rule with 1000 prefixes not matching %.0f ns, matching rule (loss 0) %.0f ns\n",
	       idle, miss, hit);
	CHECK(idle >= 0 && miss >= 0 && hit >= 0, "test runs failed");
out:
	netfault_close(nf);
}

/* Run one packet n times through a hook; the number dropped. */
static long run_many(struct netfault *nf, enum netfault_hook h, const void *pkt, size_t len, long n)
{
	long dropped = 0;

	for (long i = 0; i < n; i++) {
		int v = run_prog(nf, h, pkt, len, NULL, 0);

		if (v == drop_verdict[h])
			dropped++;
		else if (v != TC_ACT_UNSPEC)
			return -1;
	}
	return dropped;
}

static void test_loss_stats(void)
{
	static const double probs[] = {0.01, 0.10, 0.50};
	struct netfault_rule_spec spec;
	struct netfault *nf;
	uint8_t buf[128];
	char what[64];
	struct flow f = {AF_INET, IPPROTO_UDP, "10.1.2.3", "192.0.2.1", 9, 9};
	int s;

	section = "stats";
	nf = open_nf();
	if (!nf)
		return;
	for (int h = 0; h < NETFAULT_HOOK__COUNT; h++) {
		size_t len = flow_pkt(h, &f, buf, sizeof(buf));

		for (size_t i = 0; i < sizeof(probs) / sizeof(probs[0]); i++) {
			struct netfault_counters c;
			long dropped;

			spec = (struct netfault_rule_spec){.dirs = 1u << h,
							   .action = NETFAULT_ACT_LOSS,
							   .prob = netfault_prob(probs[i])};
			REQUIRE_OK(netfault_rule_add(nf, &spec, &s));
			dropped = run_many(nf, h, buf, len, STAT_N);
			c = counters(nf, s);
			CHECK(dropped >= 0, "unexpected verdict");
			CHECK(c.matched == STAT_N && c.dropped == (unsigned long)dropped,
			      "counters matched %llu dropped %llu, seen %ld of %d",
			      (unsigned long long)c.matched, (unsigned long long)c.dropped, dropped,
			      STAT_N);
			snprintf(what, sizeof(what), "loss %.0f%% %s", probs[i] * 100,
				 hook_name(h));
			check_binomial(what, STAT_N, probs[i], dropped);
			REQUIRE_OK(netfault_rule_remove(nf, s));
		}
	}

	/* Corruption 10 % on ingress: each corrupted packet differs from the input in one bit. */
	{
		size_t len = flow_pkt(NETFAULT_HOOK_INGRESS, &f, buf, sizeof(buf));
		long changed = 0, bad = 0;
		struct netfault_counters c;
		uint8_t out[128];

		spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_INGRESS,
						   .action = NETFAULT_ACT_CORRUPT,
						   .prob = netfault_prob(0.10)};
		REQUIRE_OK(netfault_rule_add(nf, &spec, &s));
		for (long i = 0; i < STAT_N; i++) {
			int bits = 0;

			if (run_prog(nf, NETFAULT_HOOK_INGRESS, buf, len, out, sizeof(out)) !=
			    TC_ACT_UNSPEC) {
				bad++;
				continue;
			}
			for (size_t k = 0; k < len; k++)
				bits += __builtin_popcount(buf[k] ^ out[k]);
			changed += bits == 1;
			bad += bits > 1;
		}
		c = counters(nf, s);
		CHECK(!bad, "%ld runs with a verdict or more than one flipped bit", bad);
		CHECK(c.corrupted == (unsigned long)changed && c.matched == STAT_N,
		      "counters corrupted %llu matched %llu, seen %ld",
		      (unsigned long long)c.corrupted, (unsigned long long)c.matched, changed);
		check_binomial("corrupt 10% ingress", STAT_N, 0.10, changed);
		REQUIRE_OK(netfault_rule_remove(nf, s));
	}

	/* Duplication 10 % on egress: the copies go out of lo (up, nothing listens). */
	{
		size_t len = flow_pkt(NETFAULT_HOOK_EGRESS, &f, buf, sizeof(buf));
		struct netfault_counters c;
		long dropped;

		spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_EGRESS,
						   .action = NETFAULT_ACT_DUPLICATE,
						   .prob = netfault_prob(0.10)};
		REQUIRE_OK(netfault_rule_add(nf, &spec, &s));
		dropped = run_many(nf, NETFAULT_HOOK_EGRESS, buf, len, STAT_N);
		c = counters(nf, s);
		CHECK(dropped == 0, "duplication dropped or failed: %ld", dropped);
		CHECK(c.matched == STAT_N, "matched %llu", (unsigned long long)c.matched);
		check_binomial("duplicate 10% egress", STAT_N, 0.10, (long)c.duplicated);
		REQUIRE_OK(netfault_rule_remove(nf, s));
	}
out:
	netfault_close(nf);
}

/*
 * Gilbert-Elliott: the loss ratio and the mean length of loss bursts (runs of consecutive
 * losses) against the model. The packet is lost with the loss probability of the current
 * state, then the state moves, so with stationary pi = (r, p) / (p + r):
 *   loss = pi_G (1-k) + pi_B (1-h)
 *   burst = loss / P(a packet is lost and the one before it was not)
 *         = loss / sum_{s,t} pi_s (1 - l_s) T(s,t) l_t            (= 1/r when 1-k=0, 1-h=1)
 */
static void test_ge(void)
{
	static const struct {
		double p, r, loss_bad, loss_good;
	} models[] = {
		{0.05, 0.30, 1.0, 0.0},	 /* simple Gilbert: bursts of mean 1/r */
		{0.05, 0.30, 0.8, 0.01}, /* losses in both states */
	};
	struct netfault_rule_spec spec;
	struct netfault *nf;
	uint8_t buf[128];
	struct flow f = {AF_INET, IPPROTO_UDP, "10.1.2.3", "192.0.2.1", 9, 9};
	size_t len = flow_pkt(NETFAULT_HOOK_EGRESS, &f, buf, sizeof(buf));
	int s;

	section = "gilbert-elliott";
	nf = open_nf();
	if (!nf)
		return;
	for (size_t m = 0; m < sizeof(models) / sizeof(models[0]); m++) {
		double p = models[m].p, r = models[m].r, lb = models[m].loss_bad,
		       lg = models[m].loss_good;
		double pi[2] = {r / (p + r), p / (p + r)}, l[2] = {lg, lb};
		double T[2][2] = {{1 - p, p}, {r, 1 - r}};
		double loss = pi[0] * lg + pi[1] * lb, start = 0, burst, got_loss, got_burst;
		long lost = 0, bursts = 0;
		struct netfault_counters c;
		bool prev = false;
		double t0 = now_s();

		for (int a = 0; a < 2; a++)
			for (int b = 0; b < 2; b++)
				start += pi[a] * (1 - l[a]) * T[a][b] * l[b];
		burst = loss / start;
		spec = (struct netfault_rule_spec){
			.dirs = NETFAULT_DIR_EGRESS,
			.action = NETFAULT_ACT_LOSS_GE,
			.ge = {netfault_prob(p), netfault_prob(r), netfault_prob(lb),
			       netfault_prob(lg)},
		};
		REQUIRE_OK(netfault_rule_add(nf, &spec, &s));
		for (long i = 0; i < GE_N; i++) {
			int v = run_prog(nf, NETFAULT_HOOK_EGRESS, buf, len, NULL, 0);
			bool now = v == TC_ACT_STOLEN;

			if (!now && v != TC_ACT_UNSPEC) {
				CHECK(0, "verdict %d", v);
				break;
			}
			lost += now;
			bursts += now && !prev;
			prev = now;
		}
		c = counters(nf, s);
		got_loss = (double)lost / GE_N;
		got_burst = bursts ? (double)lost / bursts : 0;
		printf("  GE p=%.2f r=%.2f 1-h=%.2f 1-k=%.2f over %d packets (%.1f s): loss ratio "
		       "%.4f (model %.4f, %+.1f%%), mean burst %.3f (model %.3f, %+.1f%%)\n",
		       p, r, lb, lg, GE_N, now_s() - t0, got_loss, loss,
		       100 * (got_loss - loss) / loss, got_burst, burst,
		       100 * (got_burst - burst) / burst);
		CHECK(got_loss > 0.9 * loss && got_loss < 1.1 * loss, "loss ratio %.4f vs %.4f",
		      got_loss, loss);
		CHECK(got_burst > 0.9 * burst && got_burst < 1.1 * burst, "mean burst %.3f vs %.3f",
		      got_burst, burst);
		CHECK(c.matched == GE_N && c.dropped == (unsigned long)lost,
		      "counters matched %llu dropped %llu, seen %ld", (unsigned long long)c.matched,
		      (unsigned long long)c.dropped, lost);
		REQUIRE_OK(netfault_rule_remove(nf, s));
	}
out:
	netfault_close(nf);
}

#define DELAY_N 20000

/*
 * One DELAY run: the departure time the program stamps, in ns after the run started (the draw
 * lies between *lo and *hi: the program's own clock is read between the two of ours); the
 * stamp itself to *stamp when stamp is not NULL.
 */
static int delay_run(struct netfault *nf, uint16_t lport, uint64_t tstamp_in, int64_t *lo,
		     int64_t *hi, uint64_t *stamp)
{
	struct flow f = {AF_INET, IPPROTO_UDP, "10.1.2.3", "192.0.2.1", 9, lport};
	struct __sk_buff ctx = {.tstamp = tstamp_in}, out = {0};
	struct timespec a, b;
	uint8_t buf[128];
	size_t len = flow_pkt(NETFAULT_HOOK_EGRESS, &f, buf, sizeof(buf));
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = buf, .data_size_in = len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .ctx_out = &out,
		    .ctx_size_out = sizeof(out), .repeat = 1);
	uint64_t ta, tb;

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (bpf_prog_test_run_opts(netfault_prog_fd(nf, NETFAULT_HOOK_EGRESS), &opts))
		return -errno;
	clock_gettime(CLOCK_MONOTONIC, &b);
	ta = (uint64_t)a.tv_sec * 1000000000ULL + (uint64_t)a.tv_nsec;
	tb = (uint64_t)b.tv_sec * 1000000000ULL + (uint64_t)b.tv_nsec;
	if (!out.tstamp)
		return -ENODATA;
	if (stamp)
		*stamp = out.tstamp;
	*lo = (int64_t)(out.tstamp - tb);
	*hi = (int64_t)(out.tstamp - ta);
	return 0;
}

/*
 * One draw of a DELAY rule, exactly: the packet carries a departure time 1 s ahead (as TCP
 * pacing sets one), which the program takes as the base, so the stamp is that time plus the
 * draw, whatever the scheduler did around the run. (Bracketing the run with our clock, as
 * delay_run() does, let a preemption between the two clock readings move the midpoint by
 * milliseconds: on a loaded machine that noise came in bursts and moved the statistics.)
 */
static int delay_draw(struct netfault *nf, uint16_t lport, int64_t *d)
{
	struct timespec t;
	uint64_t base, stamp;
	int64_t lo, hi;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t);
	base = (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec + 1000000000ULL;
	err = delay_run(nf, lport, base, &lo, &hi, &stamp);
	if (err)
		return err;
	*d = (int64_t)(stamp - base);
	return 0;
}

/* iproute2's normal.dist, for the table path; 0 values when it is not installed. */
static size_t read_normal_table(int16_t *v, size_t cap)
{
	FILE *fp = fopen("/usr/lib/x86_64-linux-gnu/tc/normal.dist", "re");
	char line[512];
	size_t n = 0;

	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp)) {
		char *p = line, *end;

		if (line[0] == '#')
			continue;
		for (long x; n < cap && (x = strtol(p, &end, 10), end != p); p = end)
			v[n++] = (int16_t)x;
	}
	fclose(fp);
	return n;
}

/*
 * EDT: DELAY rules stamp departure times (BPF_PROG_TEST_RUN returns skb->tstamp in ctx_out).
 * Uniform 50 ms +- 10 ms: every draw in [40, 60] ms, mean within 0.5 ms (the standard error
 * of the mean of 20,000 is 0.04 ms); normal sigma 10 ms from netem's table: mean within
 * 0.5 ms, standard deviation within 5 % (its standard error is 0.05 ms); correlation 90 %:
 * lag-1 autocorrelation of the draws above 0.8 (netem's generator gives 0.9), without it
 * below 0.05 in magnitude (standard error 0.007); a time already on the packet (TCP pacing)
 * is the base, which delay_draw() uses to read each draw exactly. Every run is a flow of its
 * own (see below), so no draw is held back.
 */
/*
 * Entries in the instance's flow_times map, found through its egress program's map ids (we
 * are root here); -1 when it cannot be read.
 */
static int flow_times_count(struct netfault *nf)
{
	struct netfault_flow_key key, next;
	int fd = map_fd(nf, "flow_times"), count = 0;

	if (fd < 0)
		return -1;
	for (int e = bpf_map_get_next_key(fd, NULL, &key); !e && count < 100000;
	     e = bpf_map_get_next_key(fd, &key, &next), key = next)
		count++;
	close(fd);
	return count;
}

static void test_delay(void)
{
	static int16_t table[NETFAULT_DIST_MAX];
	struct netfault_rule_spec spec = {
		.dirs = NETFAULT_DIR_EGRESS,
		.action = NETFAULT_ACT_DELAY,
		.delay_ns = 50000000,
		.jitter_ns = 10000000,
	};
	static double d[DELAY_N];
	struct netfault_counters c;
	struct netfault *nf;
	size_t n_table;
	int s = -1;

	section = "delay";
	nf = open_nf();
	if (!nf)
		return;
	for (int pass = 0; pass < 3; pass++) {
		double sum = 0, sq = 0, lag = 0, mean, sd, ac;
		int outside = 0;

		if (pass == 1) {
			spec.corr = netfault_prob(0.9);
		} else if (pass == 2) {
			n_table = read_normal_table(table, NETFAULT_DIST_MAX);
			if (!n_table) {
				printf("  delay: no normal.dist installed: the table path is not checked\n");
				break;
			}
			REQUIRE_OK(netfault_dist_load(nf, NETFAULT_DIST_NORMAL, table, n_table));
			spec.corr = 0;
			spec.dist = NETFAULT_DIST_NORMAL;
		}
		REQUIRE_OK(netfault_rule_add(nf, &spec, &s));
		for (int i = 0; i < DELAY_N; i++) {
			int64_t draw;

			REQUIRE_OK(delay_draw(nf, (uint16_t)(1000 + i), &draw));
			if (pass < 2 && (draw < 40000000 || draw > 60000000))
				outside++;
			d[i] = draw / 1e6;
		}
		for (int i = 0; i < DELAY_N; i++)
			sum += d[i], sq += d[i] * d[i];
		mean = sum / DELAY_N;
		sd = sqrt(sq / DELAY_N - mean * mean);
		for (int i = 1; i < DELAY_N; i++)
			lag += (d[i] - mean) * (d[i - 1] - mean);
		ac = lag / (DELAY_N - 1) / (sd * sd);
		printf("  delay %s: %d draws, mean %.3f ms, sd %.3f ms, lag-1 autocorrelation %.3f, "
		       "%d outside [40, 60] ms\n",
		       pass == 0 ? "uniform" : pass == 1 ? "uniform, correlation 90%" : "normal",
		       DELAY_N, mean, sd, ac, outside);
		CHECK(fabs(mean - 50) < 0.5, "mean %.3f ms", mean);
		CHECK(outside == 0, "%d draws outside [40, 60] ms", outside);
		if (pass == 0) {
			CHECK(fabs(sd - 20 / sqrt(12)) < 0.05 * 20 / sqrt(12), "sd %.3f ms", sd);
			CHECK(fabs(ac) < 0.05, "autocorrelation %.3f", ac);
		} else if (pass == 1) {
			CHECK(ac > 0.8, "autocorrelation %.3f with correlation 90%%", ac);
		} else {
			CHECK(fabs(sd - 10) < 0.5, "sd %.3f ms", sd);
		}
		c = counters(nf, s);
		CHECK(c.matched == DELAY_N && c.delayed == DELAY_N, "matched %llu delayed %llu",
		      (unsigned long long)c.matched, (unsigned long long)c.delayed);
		REQUIRE_OK(netfault_rule_remove(nf, s));
		s = -1;
	}
	/*
	 * A later time on the packet is the base. (That one flow's times never decrease is
	 * checked with real traffic in test_agent_latency.sh: BPF_PROG_TEST_RUN gives every run
	 * a socket of its own, so each run here is a flow of its own.)
	 */
	spec.corr = 0;
	spec.dist = NETFAULT_DIST_UNIFORM;
	REQUIRE_OK(netfault_rule_add(nf, &spec, &s));
	{
		int64_t lo, hi;
		struct timespec t;
		uint64_t base;

		clock_gettime(CLOCK_MONOTONIC, &t);
		base = (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec + 1000000000ULL;
		REQUIRE_OK(delay_run(nf, 8, base, &lo, &hi, NULL));
		/* lo, hi are relative to our clock; the stamp is base + 40..60 ms. */
		CHECK(hi >= 1040000000LL - 5000000 && lo <= 1060000000LL + 5000000,
		      "with a time 1 s ahead on the packet: stamped %lld..%lld ns ahead", (long long)lo,
		      (long long)hi);
	}
	REQUIRE_OK(netfault_rule_remove(nf, s));
	s = -1;
	/*
	 * The instance outlives its faults (kept loaded, detached): detaching forgets every
	 * flow's departure time, so a later DELAY rule in a slot never inherits a flow held
	 * back by an earlier one.
	 */
	{
		int before, after;

		REQUIRE_OK(netfault_attach(nf));
		before = flow_times_count(nf);
		REQUIRE_OK(netfault_detach(nf));
		after = flow_times_count(nf);
		printf("  delay: flow times %d before detaching, %d after\n", before, after);
		CHECK(before > 0, "no flow times recorded by the runs (%d)", before);
		CHECK(after == 0, "%d flow times left after detaching", after);
	}
out:
	netfault_close(nf);
}

/* Corruption flips exactly one bit, never in the Ethernet or IP header(s). */
/*
 * The lease deadline, enforced by the program alone: a rule dropping everything lapses by
 * its deadline (never a run that began after it is dropped) and not much before it (no more
 * than the clock's documented lead: NETFAULT_COARSE_SLACK_NS + 3 ticks of the jiffies clock,
 * or + 1 tick of at most 10 ms with the coarse clock); moving the deadline on puts it back in
 * force. Both bounds hold under any load: a delayed run can only look later than it ran.
 */
static void test_deadline(void)
{
	const struct flow f = {AF_INET, IPPROTO_UDP, "10.0.0.2", "10.0.0.1", 9, 9};
	struct netfault_rule_spec spec = {.dirs = NETFAULT_DIR_BOTH,
					  .action = NETFAULT_ACT_PARTITION};
	double deadline, lead, first_pass = 0, last_drop_start = 0, end;
	struct netfault *nf;
	uint64_t tick;
	long runs = 0;
	int s;

	section = "deadline";
	nf = open_nf();
	if (!nf)
		return;
	deadline = now_s() + 0.5;
	spec.deadline_ns = (uint64_t)(deadline * 1e9);
	REQUIRE_OK(netfault_rule_add(nf, &spec, &s));
	tick = netfault_clock_tick(nf);
	lead = (NETFAULT_COARSE_SLACK_NS + 3 * (tick ? tick : 10000000ULL)) / 1e9;
	printf("  deadline: clock %s (tick %llu ns), lead at most %.1f ms\n",
	       tick ? "jiffies" : "coarse", (unsigned long long)tick, lead * 1e3);
	CHECK(verdict(nf, NETFAULT_HOOK_EGRESS, &f) == 1, "not dropped before the deadline");
	/* Runs about every 200 us until one passes, for at most 5 s past the deadline. */
	end = deadline + 5;
	while (now_s() < end) {
		double t0 = now_s();
		int v = verdict(nf, NETFAULT_HOOK_EGRESS, &f);

		runs++;
		if (v == 1) {
			last_drop_start = t0;
		} else if (v == 0) {
			first_pass = now_s();
			break;
		} else {
			CHECK(0, "unexpected verdict");
			goto out;
		}
		usleep(200);
	}
	CHECK(first_pass > 0, "still dropping 5 s after the deadline (%ld runs)", runs);
	CHECK(last_drop_start < deadline, "a run begun %.1f ms after the deadline was dropped",
	      (last_drop_start - deadline) * 1e3);
	CHECK(first_pass == 0 || first_pass >= deadline - lead,
	      "lapsed %.1f ms before the deadline (the clock leads by at most %.1f ms)",
	      (deadline - first_pass) * 1e3, lead * 1e3);
	printf("  deadline: lapsed %.1f ms before the deadline (%ld runs)\n",
	       (deadline - first_pass) * 1e3, runs);
	/* Renewed: in force again. */
	REQUIRE_OK(netfault_rule_deadline(nf, s, (uint64_t)((now_s() + 60) * 1e9)));
	CHECK(verdict(nf, NETFAULT_HOOK_INGRESS, &f) == 1, "not dropped after the renewal");
	CHECK(verdict(nf, NETFAULT_HOOK_EGRESS, &f) == 1, "not dropped after the renewal");
out:
	netfault_close(nf);
}

static void test_corrupt_where(void)
{
	struct pkt_spec specs[] = {
		/* Only the 8-byte UDP header after the IP header. */
		{.family = AF_INET, .proto = IPPROTO_UDP, .src = "10.0.0.1", .dst = "10.0.0.2"},
		{.family = AF_INET6,
		 .proto = IPPROTO_TCP,
		 .src = "2001:db8::1",
		 .dst = "2001:db8::2",
		 .payload = 100,
		 .v6_ext = 2},
	};
	struct netfault_rule_spec spec = {.dirs = NETFAULT_DIR_BOTH,
					  .action = NETFAULT_ACT_CORRUPT,
					  .prob = NETFAULT_PROB_ONE};
	struct netfault *nf;
	int s;

	section = "corrupt";
	nf = open_nf();
	if (!nf)
		return;
	REQUIRE_OK(netfault_rule_add(nf, &spec, &s));
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		uint8_t in[256], out[256];
		size_t l3, len = pkt_build(&specs[i], in, sizeof(in), &l3);
		long hits_l4 = 0, wrong = 0;

		for (int n = 0; n < 2000; n++) {
			int bits = 0, h = n % 2;
			size_t first = len;

			if (run_prog(nf, h, in, len, out, sizeof(out)) != TC_ACT_UNSPEC) {
				wrong++;
				continue;
			}
			for (size_t k = 0; k < len; k++) {
				bits += __builtin_popcount(in[k] ^ out[k]);
				if (in[k] != out[k] && first == len)
					first = k;
			}
			wrong += bits != 1 || first < l3;
			hits_l4 += first < l3 + l4_hdr_len(specs[i].proto);
		}
		CHECK(!wrong,
		      "%s: %ld of 2000 runs did not flip exactly one bit after the IP header",
		      specs[i].family == AF_INET ? "IPv4/UDP" : "IPv6/TCP", wrong);
		CHECK(hits_l4 > 0, "no flip ever hit the L4 header");
	}
	CHECK(counters(nf, s).corrupted == 4000, "corrupted %llu, want 4000",
	      (unsigned long long)counters(nf, s).corrupted);
out:
	netfault_close(nf);
}

/* ---- real traffic on lo ------------------------------------------------------------------- */

static int udp_socket(uint16_t bind_port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(bind_port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rcvbuf = 4 << 20;

	if (fd < 0)
		return -errno;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Send n datagrams (payload: their index) to 127.0.0.1:port and count, per index, the copies
 * received. Returns the number of failed sendto() calls (ENOBUFS would be one).
 */
static long udp_exchange(int tx, int rx, uint16_t port, int n, int *copies)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
	long send_fail = 0;
	double deadline;

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(copies, 0, n * sizeof(*copies));
	for (int i = 0; i < n; i++)
		if (sendto(tx, &i, sizeof(i), 0, (struct sockaddr *)&to, sizeof(to)) != sizeof(i))
			send_fail++;
	/* Copies made on ingress are queued to the backlog: read until 200 ms of silence. */
	deadline = now_s() + 5;
	while (now_s() < deadline) {
		struct pollfd p = {.fd = rx, .events = POLLIN};
		int i;

		if (poll(&p, 1, 200) <= 0)
			break;
		while (recv(rx, &i, sizeof(i), 0) == sizeof(i))
			if (i >= 0 && i < n)
				copies[i]++;
	}
	return send_fail;
}

static void test_lo_traffic(void)
{
	enum { N = 200, PORT = 4242 };
	struct netfault_cidr lo4 = cidr("127.0.0.1/32");
	struct netfault_rule_spec spec = {.action = NETFAULT_ACT_DUPLICATE,
					  .prob = NETFAULT_PROB_ONE,
					  .proto = IPPROTO_UDP,
					  .remote = &lo4,
					  .n_remote = 1};
	static const struct {
		const char *name;
		unsigned int dirs;
		int copies;
	} cases[] = {
		{"egress", NETFAULT_DIR_EGRESS, 2},
		{"ingress", NETFAULT_DIR_INGRESS, 2},
		{"both", NETFAULT_DIR_BOTH, 4},
	};
	struct netfault *nf = NULL;
	int copies[N], tx = -1, rx = -1, s = -1;
	struct netfault_counters c;
	long fails;

	section = "lo";
	nf = open_nf();
	if (!nf)
		return;
	REQUIRE_OK(netfault_attach(nf));
	rx = udp_socket(PORT);
	tx = udp_socket(0);
	REQUIRE_OK(rx < 0 ? rx : tx < 0 ? tx : 0);

	/* Duplication: one copy per hook and packet, never a copy of a copy. */
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		int bad = 0;

		spec.dirs = cases[k].dirs;
		if (s < 0)
			REQUIRE_OK(netfault_rule_add(nf, &spec, &s));
		else
			REQUIRE_OK(netfault_rule_update(nf, s, &spec));
		c = counters(nf, s);
		fails = udp_exchange(tx, rx, PORT, N, copies);
		for (int i = 0; i < N; i++)
			bad += copies[i] != cases[k].copies;
		CHECK(!fails && !bad,
		      "duplicate (%s): %ld sendto() failures, %d datagrams without "
		      "exactly %d copies (first: %d)",
		      cases[k].name, fails, bad, cases[k].copies, copies[0]);
		{
			struct netfault_counters c2 = counters(nf, s);
			unsigned long dup = c2.duplicated - c.duplicated;
			unsigned long want = cases[k].copies == 4 ? 3 * N : N;

			CHECK(dup == want, "duplicated counter +%lu, want %lu", dup, want);
		}
	}
	printf("  lo: duplication gave exactly 2 copies per hook (4 with both) for %d datagrams\n",
	       N);

	/* Egress drops are silent to the sender: STOLEN, not SHOT (which would be ENOBUFS). */
	spec.dirs = NETFAULT_DIR_EGRESS;
	spec.action = NETFAULT_ACT_PARTITION;
	REQUIRE_OK(netfault_rule_update(nf, s, &spec));
	c = counters(nf, s);
	fails = udp_exchange(tx, rx, PORT, N, copies);
	{
		int got = 0;

		for (int i = 0; i < N; i++)
			got += copies[i];
		CHECK(!fails && !got, "egress partition: %ld sendto() failures, %d received", fails,
		      got);
		CHECK(counters(nf, s).dropped - c.dropped == N, "dropped counter");
	}
	spec.action = NETFAULT_ACT_LOSS;
	spec.prob = netfault_prob(0.5);
	REQUIRE_OK(netfault_rule_update(nf, s, &spec));
	c = counters(nf, s);
	fails = udp_exchange(tx, rx, PORT, N, copies);
	{
		int got = 0;

		for (int i = 0; i < N; i++)
			got += copies[i];
		CHECK(!fails, "egress loss: %ld sendto() failures", fails);
		CHECK((unsigned long)(N - got) == counters(nf, s).dropped - c.dropped,
		      "egress loss: %d lost, dropped counter +%llu", N - got,
		      (unsigned long long)(counters(nf, s).dropped - c.dropped));
	}
	printf("  lo: egress partition and 50%% loss: every sendto() succeeded; losses == dropped "
	       "counter\n");
out:
	if (rx >= 0)
		close(rx);
	if (tx >= 0)
		close(tx);
	netfault_close(nf);
}

/* ---- tc hygiene --------------------------------------------------------------------------- */

static bool clsact_exists(int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	int err = bpf_tc_hook_create(&hook);

	if (!err) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	return err == -EEXIST;
}

/* The name of the program at (prio, handle) on a hook, or "" when there is none. */
static void filter_prog(int ifindex, enum bpf_tc_attach_point point, int prio, int handle,
			char name[BPF_OBJ_NAME_LEN])
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio);
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd;

	name[0] = '\0';
	if (bpf_tc_query(&hook, &opts))
		return;
	fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (fd < 0)
		return;
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		snprintf(name, BPF_OBJ_NAME_LEN, "%s", info.name);
	close(fd);
}

static int foreign_attach(struct probe_bpf *probe, enum bpf_tc_attach_point point, int prio,
			  int handle)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = LO, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio,
			    .prog_fd = bpf_program__fd(probe->progs.probe_tc));
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

static int foreign_detach(enum bpf_tc_attach_point point, int prio, int handle)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = LO, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio);

	return bpf_tc_detach(&hook, &opts);
}

/*
 * Which IFB devices crash recovery may delete: ours (tagged with our alias), and an untagged
 * one that is down, which is what a crash between tc_ifb_create()'s create and tag requests
 * leaves (the fault journaled the name before). Anything else is left alone.
 */
static void test_ifb_ownership(void)
{
	const char *alias = "faultline test ifb";
	char err[256] = "";
	bool deleted;
	int ifindex;

	section = "ifb";
	REQUIRE_OK(tc_ifb_create("flifbt0", alias, &ifindex, err, sizeof(err)));
	CHECK(ifindex > 0 && if_nametoindex("flifbt0") == (unsigned)ifindex, "ifindex %d", ifindex);
	REQUIRE_OK(tc_ifb_delete("flifbt0", "somebody else's alias", &deleted));
	CHECK(!deleted && if_nametoindex("flifbt0"), "deleted an IFB tagged by somebody else");
	REQUIRE_OK(tc_ifb_delete("flifbt0", alias, &deleted));
	CHECK(deleted && !if_nametoindex("flifbt0"), "our tagged IFB not deleted");

	/* Half made: untagged and down. */
	CHECK(!system("ip link add name flifbt1 type ifb"), "ip link add flifbt1");
	REQUIRE_OK(tc_ifb_delete("flifbt1", alias, &deleted));
	CHECK(deleted && !if_nametoindex("flifbt1"), "a half-made IFB was left behind");

	/* Untagged but up, or not an IFB at all: not ours. */
	CHECK(!system("ip link add name flifbt2 type ifb && ip link set flifbt2 up"),
	      "ip link add flifbt2");
	REQUIRE_OK(tc_ifb_delete("flifbt2", alias, &deleted));
	CHECK(!deleted && if_nametoindex("flifbt2"), "deleted somebody's untagged IFB that is up");
	CHECK(!system("ip link add name flifbt3 type veth peer name flifbt4"), "ip link add veth");
	REQUIRE_OK(tc_ifb_delete("flifbt3", alias, &deleted));
	CHECK(!deleted && if_nametoindex("flifbt3"), "deleted a veth device");
	/* Gone already: not an error. */
	REQUIRE_OK(tc_ifb_delete("flifbt9", alias, &deleted));
	CHECK(!deleted, "deleted a device that does not exist");
out:
	/* The namespace is this process's own; still, leave it as found (some may be gone). */
	CHECK(system("for d in flifbt0 flifbt1 flifbt2 flifbt3; do ip link del $d 2>/dev/null; "
		     "done; true") == 0,
	      "removing the test devices");
}

static void test_tc_hygiene(void)
{
	const int P = NETFAULT_TC_PRIORITY, H = NETFAULT_TC_HANDLE;
	struct probe_bpf *probe = NULL;
	struct netfault *nf = NULL, *nf2 = NULL;
	char name[BPF_OBJ_NAME_LEN];
	int removed, status;
	pid_t pid;

	section = "tc";
	CHECK(!clsact_exists(LO), "clsact on lo before the test");

	/* We create clsact, and delete it on detach. */
	nf = open_nf();
	if (!nf)
		return;
	REQUIRE_OK(netfault_attach(nf));
	filter_prog(LO, BPF_TC_INGRESS, P, H, name);
	CHECK(!strcmp(name, NETFAULT_PROG_INGRESS), "ingress filter runs \"%s\"", name);
	filter_prog(LO, BPF_TC_EGRESS, P, H, name);
	CHECK(!strcmp(name, NETFAULT_PROG_EGRESS), "egress filter runs \"%s\"", name);
	REQUIRE_OK(netfault_attach(nf)); /* idempotent */
	REQUIRE_OK(netfault_detach(nf));
	CHECK(!clsact_exists(LO), "clsact we created is still there after detach");
	REQUIRE_OK(netfault_detach(nf));

	/* clsact and a foreign filter were there before: both stay. */
	probe = probe_bpf__open();
	REQUIRE_OK(probe ? 0 : -errno);
	bpf_program__set_autoload(probe->progs.probe_cgroup_skb, false);
	REQUIRE_OK(probe_bpf__load(probe));
	REQUIRE_OK(foreign_attach(probe, BPF_TC_INGRESS, 5, 7));
	REQUIRE_OK(netfault_attach(nf));
	REQUIRE_OK(netfault_detach(nf));
	filter_prog(LO, BPF_TC_INGRESS, 5, 7, name);
	CHECK(!strcmp(name, "probe_tc"), "the foreign filter is gone (\"%s\")", name);
	filter_prog(LO, BPF_TC_INGRESS, P, H, name);
	CHECK(!name[0], "our ingress filter is still there");
	CHECK(clsact_exists(LO), "a clsact we did not create was deleted");
	REQUIRE_OK(foreign_detach(BPF_TC_INGRESS, 5, 7));

	/* A crashed agent leaves its filters behind (the programs stay loaded through them). */
	pid = fork();
	if (pid == 0) {
		struct netfault *child;

		log_setup("test_netfault-child", LOG_LVL_ERR, LOG_STYLE_HUMAN);
		_exit(netfault_open(LO, &child) || netfault_attach(child) ? 1 : 0);
	}
	REQUIRE_OK(pid < 0 ? -errno : 0);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child could not attach");
	filter_prog(LO, BPF_TC_EGRESS, P, H, name);
	CHECK(!strcmp(name, NETFAULT_PROG_EGRESS), "no leftover after the crash (\"%s\")", name);

	/* A new instance replaces our leftover... */
	nf2 = open_nf();
	if (!nf2)
		goto out;
	REQUIRE_OK(netfault_attach(nf2));
	REQUIRE_OK(netfault_detach(nf2));
	netfault_close(nf2);
	nf2 = NULL;

	/* ...but never a foreign filter at our priority/handle. */
	REQUIRE_OK(foreign_attach(probe, BPF_TC_EGRESS, P, H));
	printf("  (an error about probe_tc at our priority/handle is expected next)\n");
	CHECK(netfault_attach(nf) == -EEXIST, "attached over a foreign filter at our prio/handle");
	filter_prog(LO, BPF_TC_INGRESS, P, H, name);
	CHECK(!name[0], "a failed attach left our ingress filter (\"%s\")", name);

	/* Crash recovery removes our leftovers only: one of ours on ingress, foreign on egress. */
	{
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = LO,
				    .attach_point = BPF_TC_INGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = H, .priority = P,
				    .prog_fd = netfault_prog_fd(nf, NETFAULT_HOOK_INGRESS));

		REQUIRE_OK(bpf_tc_attach(&hook, &opts));
	}
	REQUIRE_OK(netfault_cleanup_leftover(LO, NETFAULT_CLEANUP_QDISC, &removed));
	CHECK(removed == 1, "removed %d leftover filters, want 1", removed);
	filter_prog(LO, BPF_TC_EGRESS, P, H, name);
	CHECK(!strcmp(name, "probe_tc"), "cleanup removed a foreign filter (\"%s\")", name);
	CHECK(clsact_exists(LO), "cleanup deleted clsact with a foreign filter on it");
	REQUIRE_OK(foreign_detach(BPF_TC_EGRESS, P, H));
	REQUIRE_OK(netfault_cleanup_leftover(LO, NETFAULT_CLEANUP_QDISC, &removed));
	CHECK(removed == 0, "removed %d, want 0", removed);
	CHECK(!clsact_exists(LO),
	      "empty clsact not deleted by cleanup with NETFAULT_CLEANUP_QDISC");
	printf("  tc: attach/detach restore clsact and foreign filters; leftovers replaced or "
	       "removed by name, foreign filters at our priority/handle never touched\n");
out:
	netfault_close(nf2);
	netfault_close(nf);
	probe_bpf__destroy(probe);
}

static int lo_up(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		err = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!err && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

/*
 * libbpf reports the kernel's answer to every probe that is expected to fail (EEXIST from
 * creating clsact, ENOENT from querying a filter): debug level, as in faultlined.
 */
static __attribute__((format(printf, 2, 0))) int libbpf_print(enum libbpf_print_level level,
							      const char *fmt, va_list ap)
{
	log_vmsg(LOG_LVL_DEBUG, fmt, ap);
	return 0;
}

/* Write a sysctl of the test's own namespace (the process is already inside it). */
static int sysctl_set(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* The program id at our priority and handle on a hook of ifindex, 0 when there is none. */
static __u32 our_prog_id(int ifindex, enum bpf_tc_attach_point point)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = NETFAULT_TC_HANDLE,
			    .priority = NETFAULT_TC_PRIORITY);

	return bpf_tc_query(&hook, &opts) ? 0 : opts.prog_id;
}

static __u32 prog_id_of(struct netfault *nf, enum netfault_hook h)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	return bpf_obj_get_info_by_fd(netfault_prog_fd(nf, h), &info, &len) ? 0 : info.id;
}

/*
 * One loaded instance on two interfaces (lo and a veth made here), as a fault on several
 * containers' namespaces has it: a rule added through one handle is in force on both; after
 * netfault_unshare() the second runs a program of its own (attached in place of the shared
 * one), with the rule, its deadline and the exemption copied, and the two change apart.
 */
static void test_share(void)
{
	const enum netfault_hook IN = NETFAULT_HOOK_INGRESS, OUT = NETFAULT_HOOK_EGRESS;
	struct netfault_cidr r16 = cidr("10.1.0.0/16"), r24 = cidr("10.3.0.0/24");
	struct netfault *a = NULL, *b = NULL;
	struct netfault_rule_spec spec;
	struct netfault_exempt ssh;
	struct flow f, g, ex;
	int veth = 0, s1, s2;
	uint64_t deadline;

	section = "share";
	if (system("ip link add fl-share0 type veth peer name fl-share1 2>/dev/null")) {
		printf("SKIP [share]: cannot create a veth pair here\n");
		return;
	}
	veth = (int)if_nametoindex("fl-share0");
	REQUIRE_OK(veth ? 0 : -ENODEV);
	a = open_nf();
	if (!a)
		goto out;
	REQUIRE_OK(netfault_open_shared(veth, a, &b));
	CHECK(netfault_shares(a) == 2 && netfault_same_program(a, b), "not shared: %d",
	      netfault_shares(a));
	REQUIRE_OK(netfault_attach(a));
	REQUIRE_OK(netfault_attach(b));
	CHECK(our_prog_id(LO, BPF_TC_EGRESS) == our_prog_id(veth, BPF_TC_EGRESS) &&
		      our_prog_id(veth, BPF_TC_EGRESS) == prog_id_of(a, OUT),
	      "lo and the veth do not run the same egress program");

	/* A rule and an exemption through a: in force through b's program too. */
	REQUIRE_OK(netfault_exempt_parse_ssh("10.1.9.9 40000 10.0.0.1 22", &ssh));
	REQUIRE_OK(netfault_exempt_add(a, &ssh));
	deadline = (uint64_t)(now_s() + 3600) * 1000000000ULL;
	spec = (struct netfault_rule_spec){.dirs = NETFAULT_DIR_BOTH,
					   .action = NETFAULT_ACT_PARTITION,
					   .deadline_ns = deadline,
					   .remote = &r16,
					   .n_remote = 1};
	REQUIRE_OK(netfault_rule_add(a, &spec, &s1));
	f = (struct flow){AF_INET, IPPROTO_UDP, "10.1.2.3", "192.0.2.1", 53, 4000};
	ex = (struct flow){AF_INET, IPPROTO_TCP, "10.1.9.9", "10.0.0.1", 40000, 22};
	g = (struct flow){AF_INET, IPPROTO_UDP, "10.3.0.7", "192.0.2.1", 53, 4000};
	EXPECT_VERDICT(b, OUT, &f, 1);
	EXPECT_VERDICT(b, IN, &ex, 0);

	/* b diverges: its own program, the same rule (same slot), exemption and deadline. */
	REQUIRE_OK(netfault_unshare(b, &ssh, 1));
	CHECK(netfault_shares(a) == 1 && netfault_shares(b) == 1 && !netfault_same_program(a, b),
	      "still shared after unshare: %d", netfault_shares(a));
	CHECK(our_prog_id(veth, BPF_TC_EGRESS) == prog_id_of(b, OUT) &&
		      our_prog_id(veth, BPF_TC_INGRESS) == prog_id_of(b, IN) &&
		      prog_id_of(b, OUT) != prog_id_of(a, OUT),
	      "the veth does not run b's own programs");
	CHECK(our_prog_id(LO, BPF_TC_EGRESS) == prog_id_of(a, OUT), "lo lost the shared program");
	EXPECT_VERDICT(b, OUT, &f, 1);
	EXPECT_VERDICT(b, IN, &f, 1);
	EXPECT_VERDICT(b, IN, &ex, 0);
	/* The deadline came along: moved into the past through b, the rule lapses there only. */
	REQUIRE_OK(netfault_rule_deadline(b, s1, 1));
	EXPECT_VERDICT(b, OUT, &f, 0);
	EXPECT_VERDICT(a, OUT, &f, 1);
	REQUIRE_OK(netfault_rule_deadline(b, s1, deadline));

	/* Apart from now on: a rule through b stays out of a, a removal through a out of b. */
	spec.remote = &r24;
	REQUIRE_OK(netfault_rule_add(b, &spec, &s2));
	EXPECT_VERDICT(b, OUT, &g, 1);
	EXPECT_VERDICT(a, OUT, &g, 0);
	REQUIRE_OK(netfault_rule_remove(a, s1));
	EXPECT_VERDICT(a, OUT, &f, 0);
	EXPECT_VERDICT(b, OUT, &f, 1);
	CHECK(netfault_unshare(a, NULL, 0) == 0 && prog_id_of(a, OUT) == our_prog_id(LO, BPF_TC_EGRESS),
	      "unshare of an instance of its own changed it");

	REQUIRE_OK(netfault_detach(a));
	REQUIRE_OK(netfault_detach(b));
	CHECK(!clsact_exists(LO) && !clsact_exists(veth), "clsact left after the detaches");
out:
	netfault_close(b);
	netfault_close(a);
	if (veth && system("ip link del fl-share0 2>/dev/null"))
		CHECK(0, "deleting the veth pair");
}

int main(void)
{
	struct netfault *nf;
	double t0 = now_s();
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_setup("test_netfault", LOG_LVL_WARN, LOG_STYLE_HUMAN);
	libbpf_set_print(libbpf_print);
	if (geteuid() != 0) {
		printf("SKIP: test_netfault: needs root (BPF, tc and a network namespace)\n");
		return SKIP;
	}
	if (unshare(CLONE_NEWNET)) {
		printf("SKIP: test_netfault: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return SKIP;
	}
	/*
	 * A copy made on ingress is routed afresh (bpf_clone_redirect drops its route), and a
	 * packet from 127.0.0.1 that needs routing is a martian unless lo accepts local
	 * sources; real interfaces do not have this problem.
	 */
	err = lo_up();
	if (!err)
		err = sysctl_set("/proc/sys/net/ipv4/conf/lo/route_localnet", "1");
	if (!err)
		err = sysctl_set("/proc/sys/net/ipv4/conf/lo/accept_local", "1");
	if (err) {
		fprintf(stderr, "FAIL: setting up lo in the test namespace: %s\n", strerror(-err));
		return 1;
	}
	/* Can this kernel load the program and hook it on clsact at all? */
	err = netfault_open(LO, &nf);
	if (err) {
		printf("SKIP: test_netfault: cannot load the netfault BPF programs: %s\n",
		       strerror(-err));
		return SKIP;
	}
	err = netfault_attach(nf);
	netfault_close(nf);
	if (err == -EOPNOTSUPP || err == -ENOENT || err == -EPERM) {
		printf("SKIP: test_netfault: no clsact/cls_bpf here: %s\n", strerror(-err));
		return SKIP;
	}
	rng_state = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL | 1;
	printf("test_netfault: seed %llu\n", (unsigned long long)rng_state);

	test_classify();
	test_exempt();
	test_many_prefixes();
	test_hash_prefixes();
	test_inline_prefixes();
	test_cost();
	test_loss_stats();
	test_ge();
	test_delay();
	test_deadline();
	test_corrupt_where();
	test_lo_traffic();
	test_tc_hygiene();
	test_share();
	test_ifb_ownership();

	printf("test_netfault: %s (%d failure(s)) in %.1f s\n", failures ? "FAIL" : "PASS",
	       failures, now_s() - t0);
	return failures ? 1 : 0;
}
