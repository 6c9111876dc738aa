/*
 * network.dns answers built by the data path (bpf/netfault.bpf.c: dns_answer(),
 * netfault_dns_spoof(), netfault_dns_csum6()), byte by byte: BPF_PROG_TEST_RUN of the egress
 * program on hand-built queries, in a private network namespace (unshare(CLONE_NEWNET), only
 * lo). test_dns.sh shows that real clients accept the answers; this test reaches the corners
 * they do not: the longest name (255 bytes) with 8 AAAA records, the largest answer the
 * program builds (a 503-byte UDP segment), an EDNS record cut before the records are added,
 * the question echoed in the query's letter case, NODATA for other types, and every field of
 * the result: addresses and ports swapped, lengths, IPv4's header checksum, IPv6's UDP
 * checksum recomputed here in software, flags, counts, records and TTL, the counters; and an
 * IPv6 query behind an extension header, which is left alone.
 * Exit 0 pass, 1 fail, 77 skipped (not root, no BPF).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include "dnsname.h"
#include "log.h"
#include "netfault.h"

#define SKIP 77
#define LO 1 /* ifindex of lo in a fresh namespace */
#define TTL 300

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

static const char CLIENT4[] = "10.0.0.1", RESOLVER4[] = "10.0.0.53";
static const char CLIENT6[] = "fd00::1", RESOLVER6[] = "fd00::53";

struct query {
	int family;
	const char *name; /* dotted, as sent (its case kept) */
	uint16_t qtype;
	bool edns; /* an OPT record after the question (ARCOUNT 1) */
	bool hbh;  /* IPv6: a hop-by-hop options header before UDP */
};

/* Dotted name -> wire format; the length, 0 when it does not fit. */
static size_t wire_name(const char *name, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		if (n + 1 + l + 1 > cap)
			return 0;
		out[n++] = (uint8_t)l;
		memcpy(out + n, name, l);
		n += l;
		name += l + (dot ? 1 : 0);
	}
	out[n++] = 0;
	return n;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Ones' complement sum of 16-bit words (a trailing byte padded with 0), not folded. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += get16(p + i);
	if (n % 2)
		acc += (uint32_t)p[n - 1] << 8;
	return acc;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/*
 * Ethernet + IP + UDP (client:40000 -> resolver:53) + a query with id 0xbeef, RD; the length.
 * *dns is the offset of the DNS header, *qlen the question's length (name, type, class).
 */
static size_t build(const struct query *q, uint8_t *buf, size_t cap, size_t *dns, size_t *qlen)
{
	size_t ip = ETH_HLEN, l4 = ip + (q->family == AF_INET ? 20 : 40) + (q->hbh ? 8 : 0);
	size_t d = l4 + 8, n;
	size_t len;

	memset(buf, 0, cap);
	memcpy(buf, "\x02\x00\x00\x00\x00\x53\x02\x00\x00\x00\x00\x01", 12);
	if (q->family == AF_INET) {
		buf[12] = 0x08, buf[13] = 0x00;
		buf[ip] = 0x45;
		buf[ip + 8] = 64;
		buf[ip + 9] = IPPROTO_UDP;
		inet_pton(AF_INET, CLIENT4, buf + ip + 12);
		inet_pton(AF_INET, RESOLVER4, buf + ip + 16);
	} else {
		buf[12] = 0x86, buf[13] = 0xdd;
		buf[ip] = 0x60;
		buf[ip + 6] = IPPROTO_UDP;
		buf[ip + 7] = 64;
		if (q->hbh) {
			/* Next header UDP, 8 bytes, PadN of 4. */
			buf[ip + 6] = 0;
			buf[ip + 40] = IPPROTO_UDP;
			buf[ip + 42] = 1;
			buf[ip + 43] = 4;
		}
		inet_pton(AF_INET6, CLIENT6, buf + ip + 8);
		inet_pton(AF_INET6, RESOLVER6, buf + ip + 24);
	}
	put16(buf + l4, 40000);
	put16(buf + l4 + 2, 53);
	put16(buf + d, 0xbeef);
	buf[d + 2] = 0x01; /* RD */
	put16(buf + d + 4, 1);
	n = wire_name(q->name, buf + d + 12, cap - d - 12 - 4 - 11);
	if (!n)
		return 0;
	put16(buf + d + 12 + n, q->qtype);
	put16(buf + d + 12 + n + 2, 1); /* IN */
	*dns = d;
	*qlen = n + 4;
	len = d + 12 + n + 4;
	if (q->edns) {
		/* OPT: root name, type 41, UDP size 1232, no flags, no data. */
		static const uint8_t opt[11] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};

		put16(buf + d + 10, 1);
		memcpy(buf + len, opt, sizeof(opt));
		len += sizeof(opt);
	}
	put16(buf + l4 + 4, (uint16_t)(len - l4));
	if (q->family == AF_INET) {
		put16(buf + ip + 2, (uint16_t)(len - ip));
		put16(buf + ip + 10, (uint16_t)~fold(sum16(buf + ip, 20, 0)));
	} else {
		put16(buf + ip + 4, (uint16_t)(len - ip - 40));
	}
	return len;
}

/* The spoof rule's addresses: 10.99.0.1.. and fd00:99::1.. */
static void spoof_addrs(struct netfault_dns_spoof *sp)
{
	sp->ttl = TTL;
	sp->n_a = NETFAULT_DNS_SPOOF_MAX;
	sp->n_aaaa = NETFAULT_DNS_SPOOF_MAX;
	for (int i = 0; i < NETFAULT_DNS_SPOOF_MAX; i++) {
		uint8_t a[4] = {10, 99, 0, (uint8_t)(i + 1)}, aaaa[16] = {0xfd, 0, 0, 0x99};

		aaaa[15] = (uint8_t)(i + 1);
		memcpy(sp->a[i], a, 4);
		memcpy(sp->aaaa[i], aaaa, 16);
	}
}

/*
 * Run the egress program on the query and check the answer: want_records records of the
 * query's type (0: NODATA), rcode (0 with spoof).
 */
static void check_answer(struct netfault *nf, const struct query *q, int want_records, int rcode)
{
	uint8_t in[640], out[1024];
	size_t dns, qlen, len = build(q, in, sizeof(in), &dns, &qlen);
	size_t ip = ETH_HLEN, l4 = ip + (q->family == AF_INET ? 20 : 40);
	size_t alen = q->qtype == 28 ? 16 : 4, rr = 12 + alen, end, p;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);
	const char *what = q->name;

	if (!len) {
		CHECK(0, "%s: the query does not fit", what);
		return;
	}
	if (bpf_prog_test_run_opts(netfault_prog_fd(nf, NETFAULT_HOOK_EGRESS), &opts)) {
		CHECK(0, "%s: BPF_PROG_TEST_RUN: %s", what, strerror(errno));
		return;
	}
	CHECK(opts.retval == TC_ACT_REDIRECT, "%s: verdict %d, want TC_ACT_REDIRECT", what,
	      (int)opts.retval);
	end = dns + 12 + qlen + (size_t)want_records * rr;
	CHECK(opts.data_size_out == end, "%s: %u bytes out, want %zu", what, opts.data_size_out,
	      end);
	if (opts.data_size_out != end)
		return;
	/* Ethernet addresses swapped. */
	CHECK(!memcmp(out, in + 6, 6) && !memcmp(out + 6, in, 6), "%s: Ethernet addresses", what);
	if (q->family == AF_INET) {
		CHECK(!memcmp(out + ip + 12, in + ip + 16, 4) &&
			      !memcmp(out + ip + 16, in + ip + 12, 4),
		      "%s: IPv4 addresses not swapped", what);
		CHECK(get16(out + ip + 2) == end - ip, "%s: IPv4 total length %u, want %zu", what,
		      get16(out + ip + 2), end - ip);
		CHECK(fold(sum16(out + ip, 20, 0)) == 0xffff, "%s: IPv4 header checksum wrong",
		      what);
		CHECK(get16(out + l4 + 6) == 0, "%s: UDP checksum %#x over IPv4, want 0 (none)",
		      what, get16(out + l4 + 6));
	} else {
		uint32_t s;

		CHECK(!memcmp(out + ip + 8, in + ip + 24, 16) &&
			      !memcmp(out + ip + 24, in + ip + 8, 16),
		      "%s: IPv6 addresses not swapped", what);
		CHECK(get16(out + ip + 4) == end - l4, "%s: IPv6 payload length %u, want %zu", what,
		      get16(out + ip + 4), end - l4);
		/* Pseudo-header (addresses, UDP length, next header 17) and the segment. */
		s = sum16(out + ip + 8, 32, 0) + (uint32_t)(end - l4) + IPPROTO_UDP;
		s = sum16(out + l4, end - l4, s);
		CHECK(get16(out + l4 + 6) != 0 && fold(s) == 0xffff,
		      "%s: IPv6 UDP checksum %#x wrong (sum %#x)", what, get16(out + l4 + 6),
		      fold(s));
	}
	CHECK(get16(out + l4) == 53 && get16(out + l4 + 2) == 40000, "%s: UDP ports %u -> %u", what,
	      get16(out + l4), get16(out + l4 + 2));
	CHECK(get16(out + l4 + 4) == end - l4, "%s: UDP length %u, want %zu", what,
	      get16(out + l4 + 4), end - l4);
	/* Header: id, QR, opcode 0, AA 0, TC 0, RD kept; RA, rcode; counts. */
	CHECK(get16(out + dns) == 0xbeef, "%s: id %#x", what, get16(out + dns));
	CHECK(out[dns + 2] == 0x81 && out[dns + 3] == (0x80 | rcode), "%s: flags %02x %02x", what,
	      out[dns + 2], out[dns + 3]);
	CHECK(get16(out + dns + 4) == 1 && get16(out + dns + 6) == want_records &&
		      get16(out + dns + 8) == 0 && get16(out + dns + 10) == 0,
	      "%s: counts qd %u an %u ns %u ar %u", what, get16(out + dns + 4),
	      get16(out + dns + 6), get16(out + dns + 8), get16(out + dns + 10));
	/* The question as asked, letter case included (0x20 randomisation checks it). */
	CHECK(!memcmp(out + dns + 12, in + dns + 12, qlen), "%s: question changed", what);
	p = dns + 12 + qlen;
	for (int i = 0; i < want_records; i++, p += rr) {
		const uint8_t *r = out + p;
		uint8_t want[16] = {0};

		if (alen == 4) {
			want[0] = 10, want[1] = 99, want[3] = (uint8_t)(i + 1);
		} else {
			want[0] = 0xfd, want[3] = 0x99, want[15] = (uint8_t)(i + 1);
		}
		CHECK(get16(r) == 0xc00c && get16(r + 2) == q->qtype && get16(r + 4) == 1 &&
			      get16(r + 6) == 0 && get16(r + 8) == TTL && get16(r + 10) == alen &&
			      !memcmp(r + 12, want, alen),
		      "%s: record %d wrong", what, i);
	}
}

static struct netfault_counters counters(struct netfault *nf, int slot)
{
	struct netfault_counters c = {0};
	int err = netfault_rule_counters(nf, slot, &c);

	CHECK(!err, "reading counters of slot %d: %s", slot, strerror(-err));
	return c;
}

int main(void)
{
	/* 255 bytes in wire format: three 63-byte labels, one of 48, "abc", "internal", root. */
	static char longname[256];
	struct dnsname pat;
	struct netfault_rule_spec spec = {
		.dirs = NETFAULT_DIR_EGRESS,
		.action = NETFAULT_ACT_DNS,
		.prob = NETFAULT_PROB_ONE,
		.proto = IPPROTO_UDP,
		.rport_min = 53,
		.rport_max = 53,
		.dns_op = NETFAULT_DNS_SPOOF,
		.dns_names = &pat,
		.n_dns_names = 1,
	};
	struct netfault *nf = NULL;
	struct netfault_counters c;
	char why[300];
	int slot, err, n = 0;

	size_t o = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	log_setup("test_dns_answer", LOG_LVL_WARN, LOG_STYLE_HUMAN);
	if (geteuid() != 0) {
		printf("SKIP: test_dns_answer: needs root (BPF and a network namespace)\n");
		return SKIP;
	}
	if (unshare(CLONE_NEWNET)) {
		printf("SKIP: test_dns_answer: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return SKIP;
	}
	err = netfault_open(LO, &nf);
	if (err) {
		printf("SKIP: test_dns_answer: cannot load the netfault BPF programs: %s\n",
		       strerror(-err));
		return SKIP;
	}
	for (int l = 0; l < 4; l++) {
		int k = l < 3 ? 63 : 48;

		memset(longname + o, 'a' + l, k);
		o += k;
		longname[o++] = '.';
	}
	memcpy(longname + o, "abc.InterNal", 13);
	if (dnsname_parse("*.internal", &pat, why, sizeof(why))) {
		fprintf(stderr, "FAIL: pattern: %s\n", why);
		return 1;
	}
	spoof_addrs(&spec.dns_spoof);
	err = netfault_rule_add(nf, &spec, &slot);
	if (err) {
		fprintf(stderr, "FAIL: adding the spoof rule: %s\n", strerror(-err));
		netfault_close(nf);
		return 1;
	}

	section = "spoof";
	{
		const struct query qs[] = {
			{AF_INET, "db.internal", 1, false, false},
			{AF_INET, "DB.Internal", 28, true, false},
			{AF_INET, longname, 1, true, false},
			{AF_INET6, "db.internal", 28, true, false},
			{AF_INET6, "Db.internal", 1, false, false},
			{AF_INET6, longname, 28, true,
			 false}, /* the largest answer: 503-byte segment */
		};

		for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++, n++)
			check_answer(nf, &qs[i], NETFAULT_DNS_SPOOF_MAX, 0);
		/* Another type: NOERROR, no record (NODATA). */
		check_answer(nf, &(struct query){AF_INET6, "db.internal", 15 /* MX */, true, false},
			     0, 0);
		n++;
	}
	c = counters(nf, slot);
	CHECK(c.queries == (unsigned)n && c.matched == (unsigned)n && c.answered == (unsigned)n &&
		      c.dropped == 0,
	      "queries %llu matched %llu answered %llu dropped %llu, want %d %d %d 0",
	      (unsigned long long)c.queries, (unsigned long long)c.matched,
	      (unsigned long long)c.answered, (unsigned long long)c.dropped, n, n, n);

	section = "one family";
	{
		/* One A address, no AAAA address: an AAAA query gets NODATA. */
		netfault_rule_remove(nf, slot);
		spec.dns_spoof.n_aaaa = 0;
		spec.dns_spoof.n_a = 1;
		err = netfault_rule_add(nf, &spec, &slot);
		CHECK(!err, "re-adding the rule: %s", strerror(-err));
		check_answer(nf, &(struct query){AF_INET, "db.internal", 28, false, false}, 0, 0);
		check_answer(nf, &(struct query){AF_INET6, "x.internal", 1, false, false}, 1, 0);
	}

	section = "ipv6 extension header";
	{
		/* Not parsed: passed on untouched to the resolver, not even counted as a query. */
		const struct query q = {AF_INET6, "db.internal", 1, false, true};
		uint8_t in[256], out[256];
		size_t dns, qlen, len = build(&q, in, sizeof(in), &dns, &qlen);
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len,
			    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
		unsigned long long before = counters(nf, slot).queries;

		err = bpf_prog_test_run_opts(netfault_prog_fd(nf, NETFAULT_HOOK_EGRESS), &opts);
		CHECK(!err && (int)opts.retval == TC_ACT_UNSPEC &&
			      opts.data_size_out == (__u32)len && !memcmp(in, out, len),
		      "a query after a hop-by-hop header was not passed on untouched (verdict %d)",
		      (int)opts.retval);
		CHECK(counters(nf, slot).queries == before, "it counted as a query");
	}

	section = "rcode";
	{
		/* An RCODE answer over IPv6 gets its checksum too. */
		const struct query q = {AF_INET6, longname, 1, true, false};

		netfault_rule_remove(nf, slot);
		spec.dns_op = NETFAULT_DNS_ANSWER;
		spec.dns_rcode = 3;
		err = netfault_rule_add(nf, &spec, &slot);
		CHECK(!err, "adding the nxdomain rule: %s", strerror(-err));
		check_answer(nf, &q, 0, 3);
	}
	netfault_close(nf);
	printf("test_dns_answer: %s (%d failure(s))\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
