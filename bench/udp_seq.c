/*
 * Sequence-numbered UDP for loss fidelity: the sender paces N datagrams, the receiver records
 * which sequence numbers arrived and prints the loss ratio and the loss bursts (runs of
 * consecutive missing numbers), the figures loss models are judged by.
 *
 *   udp_seq recv PORT N IDLE_MS    bind 0.0.0.0:PORT; stop after N datagrams or IDLE_MS of
 *                                  silence; print "received R lost L bursts B mean_burst M"
 *   udp_seq send ADDR PORT N PPS   send N datagrams of 64 bytes at PPS per second; print
 *                                  "send_errors E", the sends the local stack refused
 *
 * Bounded: the receiver never waits longer than IDLE_MS for the next datagram, the sender
 * sends exactly N. Exit 0, 1 on error, 2 on a bad command line.
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

#define MAX_N 10000000L

static int do_recv(int port, long n, int idle_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), buf = 8 << 20;
	long received = 0, lost = 0, bursts = 0;
	uint8_t *seen = calloc(n, 1);
	struct pollfd pfd;

	if (fd < 0 || !seen) {
		perror("udp_seq: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("udp_seq: bind");
		return 1;
	}
	/* Tell the caller we are ready before the sender starts. */
	printf("ready\n");
	fflush(stdout);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (received < n) {
		uint32_t seq;
		ssize_t got;
		int r = poll(&pfd, 1, idle_ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got = recv(fd, &seq, sizeof(seq), 0);
		if (got != (ssize_t)sizeof(seq))
			continue;
		seq = ntohl(seq);
		if (seq < (uint32_t)n && !seen[seq]) {
			seen[seq] = 1;
			received++;
		}
	}
	for (long i = 0; i < n; i++) {
		if (seen[i])
			continue;
		lost++;
		bursts += i == 0 || seen[i - 1];
	}
	printf("received %ld lost %ld bursts %ld mean_burst %.4f\n", received, lost, bursts,
	       bursts ? (double)lost / bursts : 0.0);
	free(seen);
	close(fd);
	return 0;
}

static int do_send(const char *addr, int port, long n, long pps)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint8_t pkt[64] = { 0 };
	int64_t t0 = bench_now_ns(), gap = 1000000000 / pps;
	long send_errors = 0;

	if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "udp_seq: bad address '%s'\n", addr);
		return 2;
	}
	for (long i = 0; i < n; i++) {
		uint32_t seq = htonl((uint32_t)i);
		int64_t due = t0 + i * gap, wait = due - bench_now_ns();

		if (wait > 0) {
			struct timespec ts = { wait / 1000000000, wait % 1000000000 };

			nanosleep(&ts, NULL);
		}
		memcpy(pkt, &seq, sizeof(seq));
		/*
		 * A drop on our own egress can be visible to the sender: iptables DROP in OUTPUT
		 * fails sendto() with EPERM, a tc SHOT with ENOBUFS. Wire loss is silent. Count
		 * them (the datagram is lost all the same) and report how many the sender saw.
		 */
		if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			if (errno != EPERM && errno != ENOBUFS) {
				fprintf(stderr, "udp_seq: sendto #%ld: %s\n", i, strerror(errno));
				return 1;
			}
			send_errors++;
		}
	}
	printf("send_errors %ld\n", send_errors);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "recv"))
		return do_recv((int)bench_arg_long("udp_seq", argv[2], 1, 65535),
			       bench_arg_long("udp_seq", argv[3], 1, MAX_N),
			       (int)bench_arg_long("udp_seq", argv[4], 1, 60000));
	if (argc == 6 && !strcmp(argv[1], "send"))
		return do_send(argv[2], (int)bench_arg_long("udp_seq", argv[3], 1, 65535),
			       bench_arg_long("udp_seq", argv[4], 1, MAX_N),
			       bench_arg_long("udp_seq", argv[5], 1, 1000000));
	fprintf(stderr, "usage: udp_seq recv PORT N IDLE_MS | udp_seq send ADDR PORT N PPS\n");
	return 2;
}
