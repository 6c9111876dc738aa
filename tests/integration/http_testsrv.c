/*
 * A small HTTP/1.1 server for probe tests, on loopback only. Every path answers with the
 * configured status after the configured delay, except two:
 *   GET /control?status=N&delay_ms=M   changes status and delay (either may be omitted)
 *   GET /metrics                       Prometheus text: requests by code, configured status
 * Keep-alive is honoured, one thread per connection, so slow answers do not block others.
 *
 * Usage: http_testsrv PORT_FILE [LIFETIME_SECONDS]
 * Binds 127.0.0.1 on a free port, writes the port to PORT_FILE and serves until SIGTERM or
 * the lifetime (default 300 s) runs out, so a test that dies cannot leave it behind for long.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CODES 600

static atomic_int cur_status = 200;
static atomic_int cur_delay_ms = 0;
static atomic_ulong counts[MAX_CODES];

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int reply(int fd, int status, const char *body, bool head)
{
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: keep-alive\r\n\r\n",
			 status, strlen(body));

	if (send_all(fd, hdr, (size_t)n))
		return -1;
	return head ? 0 : send_all(fd, body, strlen(body));
}

static int handle(int fd, const char *method, const char *path)
{
	bool head = !strcmp(method, "HEAD");
	char body[MAX_CODES * 64];

	if (!strncmp(path, "/control", 8)) {
		const char *s = strstr(path, "status="), *d = strstr(path, "delay_ms=");

		if (s)
			atomic_store(&cur_status, atoi(s + 7));
		if (d)
			atomic_store(&cur_delay_ms, atoi(d + 9));
		snprintf(body, sizeof(body), "status %d delay_ms %d\n", atomic_load(&cur_status),
			 atomic_load(&cur_delay_ms));
		return reply(fd, 200, body, head);
	}
	if (!strcmp(path, "/metrics")) {
		size_t o = 0;

		o += (size_t)snprintf(body + o, sizeof(body) - o,
				      "# TYPE testsrv_requests_total counter\n");
		/* Always list 200 and 503 so rate() has both series from the first scrape. */
		for (int c = 100; c < MAX_CODES; c++) {
			unsigned long v = atomic_load(&counts[c]);

			if (v || c == 200 || c == 503)
				o += (size_t)snprintf(body + o, sizeof(body) - o,
						      "testsrv_requests_total{code=\"%d\"} %lu\n",
						      c, v);
		}
		snprintf(body + o, sizeof(body) - o,
			 "# TYPE testsrv_status gauge\ntestsrv_status %d\n",
			 atomic_load(&cur_status));
		return reply(fd, 200, body, head);
	}
	{
		int st = atomic_load(&cur_status), delay = atomic_load(&cur_delay_ms);

		if (delay > 0)
			sleep_ms(delay);
		if (st >= 100 && st < MAX_CODES)
			atomic_fetch_add(&counts[st], 1);
		snprintf(body, sizeof(body), "status %d\n", st);
		return reply(fd, st, body, head);
	}
}

/* Serve one connection: requests without bodies, as the probes send them. */
static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[8192];
	size_t len = 0;

	for (;;) {
		char *end, method[16], path[2048];
		ssize_t n;

		end = memmem(buf, len, "\r\n\r\n", 4);
		if (!end) {
			if (len == sizeof(buf))
				break;
			n = recv(fd, buf + len, sizeof(buf) - len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
			continue;
		}
		*end = '\0';
		if (sscanf(buf, "%15s %2047s", method, path) != 2 || handle(fd, method, path))
			break;
		len -= (size_t)(end + 4 - buf);
		memmove(buf, end + 4, len);
	}
	close(fd);
	return NULL;
}

static void on_alarm(int sig)
{
	_exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int lfd, one = 1;
	FILE *f;

	if (argc < 2) {
		fprintf(stderr, "usage: http_testsrv PORT_FILE [LIFETIME_SECONDS]\n");
		return 2;
	}
	signal(SIGALRM, on_alarm);
	alarm(argc > 2 ? (unsigned)atoi(argv[2]) : 300);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 128) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen)) {
		perror("http_testsrv");
		return 1;
	}
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%d\n", ntohs(a.sin_port)) < 0 || fclose(f)) {
		perror(argv[1]);
		return 1;
	}
	for (;;) {
		pthread_t t;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				sleep_ms(10);
				continue;
			}
			perror("accept");
			return 1;
		}
		if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd)) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}
