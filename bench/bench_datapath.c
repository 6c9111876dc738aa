/*
 * Data-path cost of the network-fault tc program (bpf/netfault.bpf.c), per packet, measured
 * with BPF_PROG_TEST_RUN in a private network namespace, side by side with a reference: an
 * empty tc program (two instructions returning TC_ACT_UNSPEC) run the same way, so the
 * test-run harness's own cost is in both figures and the ratio says what our classifier adds.
 *
 * Configurations: no rule; one rule with one prefix (the packet misses it, then hits it);
 * one rule with 10,000 prefixes (miss, hit); DNS (network.dns): a loss rule on the resolver's
 * prefix and port 53 with a UDP packet to another port of that address (the program without
 * any DNS rule), then a DNS rule in its place with the same packet (what a non-DNS packet
 * pays for the feature: a packet to another address pays nothing, as the miss rows show), a
 * query for a name the rule does not match, and one it matches (probability 0: matched and
 * counted, not answered, so the packet stays a query across the repeats). The rule carries a lease
 * deadline an hour ahead, as every rule of the agent does, so the hit pays the deadline check.
 * Rounds are interleaved and each figure is the median of ROUNDS rounds of REPEAT runs, so a noisy
 * neighbour moves every figure alike.
 *
 * Two passes: the program loaded by root (the verifier with CAP_PERFMON and CAP_SYS_ADMIN),
 * then, after the process dropped every capability but CAP_BPF and CAP_NET_ADMIN, loaded
 * again as the agent loads it (rows suffixed _agent_caps). Without CAP_PERFMON the verifier
 * adds Spectre mitigations (a speculation barrier after stack stores, masking of pointer
 * arithmetic), so the second pass is the cost of the program faultlined really runs.
 *
 * Output: one line per configuration, "name ns_per_packet reference_ns ratio", for
 * bench/run.sh; on stderr, which clock the program checks the deadlines with. Exit 0, 1 on
 * failure, 77 when it cannot run here (not root, no BPF).
 *
 * For profiling: BENCH_DATAPATH_ONLY=name,name... measures only those configurations (the
 * others print 0.0), BENCH_DATAPATH_ROOT_ONLY=1 skips the pass with the agent's capabilities.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include "caps.h"
#include "log.h"
#include "netfault.h"

#define SKIP 77
#define LO 1 /* ifindex of lo in a fresh namespace */
#define REPEAT 1000000
#define ROUNDS 7
#define N_PREFIXES 10000

enum config {
	C_NONE,
	C_ONE_MISS,
	C_ONE_HIT,
	C_MANY_MISS,
	C_MANY_HIT,
	C_PORT_OTHER,
	C_DNS_OTHER,
	C_DNS_QUERY,
	C_DNS_MATCH,
	C__COUNT
};

static const char *const config_name[C__COUNT] = {
	[C_NONE] = "no_rule",
	[C_ONE_MISS] = "1_prefix_miss",
	[C_ONE_HIT] = "1_prefix_hit",
	[C_MANY_MISS] = "10000_prefixes_miss",
	[C_MANY_HIT] = "10000_prefixes_hit",
	[C_PORT_OTHER] = "port53_rule_non_dns_packet",
	[C_DNS_OTHER] = "dns_rule_non_dns_packet",
	[C_DNS_QUERY] = "dns_rule_query_no_match",
	[C_DNS_MATCH] = "dns_rule_query_match",
};

/* Rules of the DNS rows: in C_PORT_OTHER a loss rule, in the others a DNS rule, on port 53. */
static bool port53_rule(int c)
{
	return c == C_PORT_OTHER || c == C_DNS_OTHER || c == C_DNS_QUERY || c == C_DNS_MATCH;
}

/* An Ethernet + IPv4 + UDP packet from 192.0.2.1 to dst with 64 bytes of payload. */
static size_t udp_packet(uint8_t *buf, size_t cap, const char *dst)
{
	size_t len = ETH_HLEN + 20 + 8 + 64;
	uint8_t *ip = buf + ETH_HLEN, *udp = ip + 20;

	if (cap < len)
		return 0;
	memset(buf, 0, len);
	buf[12] = 0x08; /* ETH_P_IP */
	ip[0] = 0x45;
	ip[2] = (len - ETH_HLEN) >> 8;
	ip[3] = (len - ETH_HLEN) & 0xff;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	inet_pton(AF_INET, "192.0.2.1", ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	udp[1] = 9, udp[3] = 9; /* ports 9 -> 9 */
	udp[5] = 8 + 64;
	return len;
}

/*
 * An Ethernet + IPv4 + UDP DNS query from 192.0.2.1:5353 to dst:53 for name (type A, with an
 * EDNS record as dig sends), or 0.
 */
static size_t dns_packet(uint8_t *buf, size_t cap, const char *dst, const char *name)
{
	static const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
	uint8_t *ip = buf + ETH_HLEN, *udp = ip + 20, *dns = udp + 8, *q = dns + 12;
	struct dnsname n;
	size_t len;
	char why[128];

	if (dnsname_parse(name, &n, why, sizeof(why)))
		return 0;
	len = ETH_HLEN + 20 + 8 + 12 + n.len + 4 + sizeof(opt);
	if (cap < len)
		return 0;
	memset(buf, 0, len);
	buf[12] = 0x08; /* ETH_P_IP */
	ip[0] = 0x45;
	ip[2] = (len - ETH_HLEN) >> 8;
	ip[3] = (len - ETH_HLEN) & 0xff;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	inet_pton(AF_INET, "192.0.2.1", ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	udp[0] = 5353 >> 8, udp[1] = 5353 & 0xff, udp[3] = 53;
	udp[4] = (len - ETH_HLEN - 20) >> 8;
	udp[5] = (len - ETH_HLEN - 20) & 0xff;
	dns[0] = 0x12, dns[1] = 0x34, dns[2] = 0x01; /* RD */
	dns[5] = 1, dns[11] = 1;		     /* one question, one additional (OPT) */
	memcpy(q, n.wire, n.len);
	q[n.len + 1] = 1, q[n.len + 3] = 1; /* A, IN */
	memcpy(q + n.len + 4, opt, sizeof(opt));
	return len;
}

/* The reference: a tc program that only returns TC_ACT_UNSPEC. */
static int empty_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = TC_ACT_UNSPEC },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "bench_empty", "GPL", insns, 2, NULL);
}

/* Mean ns per run of prog over REPEAT runs, or -1. */
static double ns_per_packet(int prog, const void *pkt, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = len, .repeat = REPEAT);

	if (bpf_prog_test_run_opts(prog, &opts))
		return -1;
	return opts.duration;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One pass over every configuration with the program of nf; prints the rows, with suffix. */
static int measure(struct netfault *nf, int ref_fd, const char *suffix)
{
	static struct netfault_cidr many[N_PREFIXES];
	double t[C__COUNT][ROUNDS], ref[C__COUNT][ROUNDS];
	struct netfault_cidr one = { .family = AF_INET, .prefixlen = 24 };
	struct netfault_rule_spec spec = {
		.dirs = NETFAULT_DIR_EGRESS,
		.action = NETFAULT_ACT_LOSS,
		/*
		 * P = 2^-32: matched, counted and drawn (the full hit path; a probability of 0
		 * or 1 skips the draw), and almost never dropped: one packet in 4 billion.
		 */
		.prob = 1,
	};
	uint8_t miss_pkt[128], hit_pkt[128], query_pkt[128], match_pkt[128];
	size_t miss_len, hit_len, query_len, match_len;
	struct dnsname db;
	char why[128];
	int prog, slot = -1, err = 0;
	struct timespec now;

	if (clock_gettime(CLOCK_MONOTONIC, &now))
		return -errno;
	/* A lease deadline an hour ahead, in the program's clock (CLOCK_MONOTONIC). */
	spec.deadline_ns = (uint64_t)now.tv_sec * 1000000000ULL + now.tv_nsec + 3600000000000ULL;
	prog = netfault_prog_fd(nf, NETFAULT_HOOK_EGRESS);
	miss_len = udp_packet(miss_pkt, sizeof(miss_pkt), "198.51.100.7");
	hit_len = udp_packet(hit_pkt, sizeof(hit_pkt), "10.0.42.7");
	query_len = dns_packet(query_pkt, sizeof(query_pkt), "10.0.42.7", "www.example.com");
	match_len = dns_packet(match_pkt, sizeof(match_pkt), "10.0.42.7", "db.internal");
	if (!query_len || !match_len || dnsname_parse("db.internal.", &db, why, sizeof(why)))
		return -EINVAL;
	inet_pton(AF_INET, "10.0.42.0", one.addr);
	/* 10.0.0.0/24 .. 10.39.15.0/24: 10,000 distinct /24s, 10.0.42.0/24 among them. */
	for (uint32_t i = 0; i < N_PREFIXES; i++) {
		uint32_t a = htonl(0x0a000000u | i << 8);

		many[i] = (struct netfault_cidr){ .family = AF_INET, .prefixlen = 24 };
		memcpy(many[i].addr, &a, 4);
	}

	for (int r = 0; r < ROUNDS; r++) {
		for (int c = 0; c < C__COUNT; c++) {
			const uint8_t *pkt = c == C_DNS_QUERY	? query_pkt
					     : c == C_DNS_MATCH ? match_pkt
					     : c == C_ONE_HIT || c == C_MANY_HIT ||
							     c == C_PORT_OTHER || c == C_DNS_OTHER
						     ? hit_pkt
						     : miss_pkt;
			size_t len = pkt == hit_pkt	? hit_len
				     : pkt == query_pkt ? query_len
				     : pkt == match_pkt ? match_len
							: miss_len;

			if (slot >= 0 && (c == C_NONE || c == C_ONE_MISS || c == C_MANY_MISS ||
					  c == C_PORT_OTHER || c == C_DNS_OTHER)) {
				err = netfault_rule_remove(nf, slot);
				slot = -1;
				if (err)
					return err;
			}
			if (c == C_ONE_MISS || c == C_MANY_MISS || c == C_PORT_OTHER ||
			    c == C_DNS_OTHER) {
				struct netfault_rule_spec rs = spec;

				rs.remote = c == C_MANY_MISS ? many : &one;
				rs.n_remote = c == C_MANY_MISS ? N_PREFIXES : 1;
				if (port53_rule(c))
					rs.rport_min = rs.rport_max = 53;
				if (c == C_DNS_OTHER) {
					/* Matched queries are counted, none answered (prob 0). */
					rs.prob = 0;
					rs.action = NETFAULT_ACT_DNS;
					rs.dns_op = NETFAULT_DNS_ANSWER;
					rs.dns_rcode = 3;
					rs.dns_names = &db;
					rs.n_dns_names = 1;
				}
				err = netfault_rule_add(nf, &rs, &slot);
				if (err)
					return err;
			}
			if (getenv("BENCH_DATAPATH_ONLY") &&
			    !strstr(getenv("BENCH_DATAPATH_ONLY"), config_name[c])) {
				ref[c][r] = t[c][r] = 0;
				continue;
			}
			ref[c][r] = ns_per_packet(ref_fd, pkt, len);
			t[c][r] = ns_per_packet(prog, pkt, len);
			if (ref[c][r] < 0 || t[c][r] < 0)
				return -errno;
		}
	}
	if (slot >= 0 && (err = netfault_rule_remove(nf, slot)))
		return err;
	if (netfault_clock_tick(nf))
		fprintf(stderr, "bench_datapath%s: deadlines checked with jiffies (tick %llu ns)\n",
			suffix, (unsigned long long)netfault_clock_tick(nf));
	else
		fprintf(stderr, "bench_datapath%s: deadlines checked with the coarse clock\n",
			suffix);

	for (int c = 0; c < C__COUNT; c++) {
		double m, mr;

		qsort(t[c], ROUNDS, sizeof(double), cmp_double);
		qsort(ref[c], ROUNDS, sizeof(double), cmp_double);
		m = t[c][ROUNDS / 2];
		mr = ref[c][ROUNDS / 2];
		printf("%s%s %.1f %.1f %.2f\n", config_name[c], suffix, m, mr, mr > 0 ? m / mr : 0);
	}
	fflush(stdout);
	return 0;
}

int main(void)
{
	struct netfault *nf = NULL;
	int ref_fd = -1, err, ret = 1;

	log_setup("bench_datapath", LOG_LVL_WARN, LOG_STYLE_HUMAN);
	if (geteuid()) {
		printf("SKIP: bench_datapath: needs root\n");
		return SKIP;
	}
	if (unshare(CLONE_NEWNET)) {
		printf("SKIP: bench_datapath: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return SKIP;
	}
	ref_fd = empty_prog();
	if (ref_fd < 0) {
		printf("SKIP: bench_datapath: cannot load a tc program: %s\n", strerror(errno));
		return SKIP;
	}
	err = netfault_open(LO, &nf);
	if (err) {
		fprintf(stderr, "bench_datapath: netfault_open: %s\n", strerror(-err));
		goto out;
	}
	err = measure(nf, ref_fd, "");
	if (err)
		goto fail;
	netfault_close(nf);
	nf = NULL;
	if (getenv("BENCH_DATAPATH_ROOT_ONLY")) {
		ret = 0;
		goto out;
	}
	/* The agent's capabilities after its start-up (docs/network-faults.md, Capabilities). */
	err = caps_restrict(1ULL << CAP_BPF | 1ULL << CAP_NET_ADMIN, 0);
	if (err) {
		fprintf(stderr, "bench_datapath: dropping capabilities: %s\n", strerror(-err));
		goto out;
	}
	err = netfault_open(LO, &nf);
	if (err) {
		fprintf(stderr, "bench_datapath: netfault_open with the agent's capabilities: %s\n",
			strerror(-err));
		goto out;
	}
	err = measure(nf, ref_fd, "_agent_caps");
	if (err)
		goto fail;
	ret = 0;
	goto out;
fail:
	fprintf(stderr, "bench_datapath: %s\n", strerror(-err));
out:
	netfault_close(nf);
	if (ref_fd >= 0)
		close(ref_fd);
	return ret;
}
