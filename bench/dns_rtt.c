/*
 * Query to answer over UDP, one query at a time, for the dns bench (bench/dns.sh): the time
 * from just before send() to just after recv() of the answer with the query's id, which is
 * what a stub resolver waits.
 *
 *   dns_rtt ADDR PORT NAME TYPE N WARMUP TIMEOUT_MS
 *
 * ADDR is an IPv4 or IPv6 address, TYPE A or AAAA. WARMUP unmeasured queries first, then N
 * measured ones; every wait is bounded by TIMEOUT_MS (a query without an answer in it counts
 * as a timeout and is not timed). Each measured answer's time in nanoseconds goes to stdout,
 * one a line; a summary to stderr: "answered A timeouts T rcode R ancount C first ADDRESS"
 * (of the last answer: its RCODE, its answer count and its first A or AAAA record, or "-").
 * Exit 0, 1 on error, 2 on a bad command line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define MAX_N 1000000L

/* The query in wire format (header, QNAME, QTYPE, QCLASS IN): its length, or -1. */
static int build_query(uint8_t *q, size_t size, const char *name, uint16_t qtype)
{
	size_t n = 12, len;
	const char *p = name;

	memset(q, 0, 12);
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	while (*p) {
		const char *dot = strchr(p, '.');

		len = dot ? (size_t)(dot - p) : strlen(p);
		if (!len || len > 63 || n + len + 1 + 5 > size)
			return -1;
		q[n++] = (uint8_t)len;
		memcpy(q + n, p, len);
		n += len;
		p += len + (dot != NULL);
	}
	q[n++] = 0;
	q[n++] = qtype >> 8;
	q[n++] = qtype & 0xff;
	q[n++] = 0;
	q[n++] = 1;
	return (int)n;
}

/* Skip a (possibly compressed) name at off: the offset after it, or 0 if malformed. */
static size_t skip_name(const uint8_t *m, size_t len, size_t off)
{
	for (int hops = 0; off < len && hops < 128; hops++) {
		if (!m[off])
			return off + 1;
		if ((m[off] & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		off += m[off] + 1;
	}
	return 0;
}

/* The first A or AAAA record of an answer, printed into out, or "-". */
static void first_address(const uint8_t *m, size_t len, char *out, size_t size)
{
	size_t off = skip_name(m, len, 12);
	unsigned an = (unsigned)m[6] << 8 | m[7];

	snprintf(out, size, "-");
	if (!off || off + 4 > len)
		return;
	off += 4; /* QTYPE, QCLASS */
	for (unsigned i = 0; i < an; i++) {
		uint16_t type, rdlen;

		off = skip_name(m, len, off);
		if (!off || off + 10 > len)
			return;
		type = (uint16_t)(m[off] << 8 | m[off + 1]);
		rdlen = (uint16_t)(m[off + 8] << 8 | m[off + 9]);
		off += 10;
		if (off + rdlen > len)
			return;
		if (type == 1 && rdlen == 4) {
			inet_ntop(AF_INET, m + off, out, (socklen_t)size);
			return;
		}
		if (type == 28 && rdlen == 16) {
			inet_ntop(AF_INET6, m + off, out, (socklen_t)size);
			return;
		}
		off += rdlen;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = {0};
	socklen_t sslen;
	uint8_t q[512], a[4096];
	long n, warmup, answered = 0, timeouts = 0;
	int timeout_ms, fd, qlen, rcode = -1, ancount = -1;
	uint16_t qtype;
	char first[INET6_ADDRSTRLEN] = "-";

	if (argc != 8) {
		fprintf(stderr, "usage: dns_rtt ADDR PORT NAME A|AAAA N WARMUP TIMEOUT_MS\n");
		return 2;
	}
	if (!strcmp(argv[4], "A"))
		qtype = 1;
	else if (!strcmp(argv[4], "AAAA"))
		qtype = 28;
	else {
		fprintf(stderr, "dns_rtt: type '%s' is not A or AAAA\n", argv[4]);
		return 2;
	}
	n = bench_arg_long("dns_rtt", argv[5], 1, MAX_N);
	warmup = bench_arg_long("dns_rtt", argv[6], 0, MAX_N);
	timeout_ms = (int)bench_arg_long("dns_rtt", argv[7], 1, 60000);
	if (inet_pton(AF_INET, argv[1], &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port =
			htons((uint16_t)bench_arg_long("dns_rtt", argv[2], 1, 65535));
		sslen = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, argv[1], &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port =
			htons((uint16_t)bench_arg_long("dns_rtt", argv[2], 1, 65535));
		sslen = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "dns_rtt: '%s' is not an IP address\n", argv[1]);
		return 2;
	}
	qlen = build_query(q, sizeof(q), argv[3], qtype);
	if (qlen < 0) {
		fprintf(stderr, "dns_rtt: '%s' is not a name\n", argv[3]);
		return 2;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sslen)) {
		perror("dns_rtt: socket");
		return 1;
	}
	for (long i = 0; i < warmup + n; i++) {
		uint16_t id = (uint16_t)(i * 7919 + 1);
		int64_t t0, t1 = 0, deadline;
		ssize_t got = -1;

		q[0] = id >> 8;
		q[1] = id & 0xff;
		t0 = bench_now_ns();
		if (send(fd, q, (size_t)qlen, 0) != qlen) {
			perror("dns_rtt: send");
			return 1;
		}
		deadline = t0 + (int64_t)timeout_ms * 1000000;
		/* Answers to earlier queries that timed out may still come: skip other ids. */
		for (;;) {
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			int64_t left = deadline - bench_now_ns();
			int r;

			if (left <= 0)
				break;
			r = poll(&pfd, 1, (int)((left + 999999) / 1000000));
			if (r < 0 && errno != EINTR) {
				perror("dns_rtt: poll");
				return 1;
			}
			if (r <= 0)
				continue;
			got = recv(fd, a, sizeof(a), 0);
			t1 = bench_now_ns();
			if (got >= 12 && a[0] == q[0] && a[1] == q[1])
				break;
			got = -1;
		}
		if (got < 0) {
			timeouts++;
			continue;
		}
		rcode = a[3] & 0x0f;
		ancount = a[6] << 8 | a[7];
		if (i >= warmup) {
			answered++;
			printf("%lld\n", (long long)(t1 - t0));
		}
		if (i == warmup + n - 1 || i == warmup)
			first_address(a, (size_t)got, first, sizeof(first));
	}
	fprintf(stderr, "answered %ld timeouts %ld rcode %d ancount %d first %s\n", answered,
		timeouts, rcode, ancount, first);
	close(fd);
	return 0;
}
