/* Blocking agent client with bounded waits: every read and write has a deadline. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "http.h"

struct client {
	int fd;
	char path[108];
	char *buf;
	size_t len, cap;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int client_connect(const struct agent_addr *addr, struct client **out, char *err, size_t err_size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct client *c;
	int e;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	snprintf(c->path, sizeof(c->path), "%s", addr->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		e = -errno;
		free(c);
		return e;
	}
	memcpy(sa.sun_path, addr->path, sizeof(sa.sun_path) - 1);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = -errno;
		snprintf(err, err_size, "cannot connect to the agent at unix://%s: %s%s", addr->path,
			 strerror(-e),
			 e == -ENOENT || e == -ECONNREFUSED ? " (is faultlined running?)" :
			 e == -EACCES ? " (root or group faultline needed)" :
					"");
		close(c->fd);
		free(c);
		return e;
	}
	*out = c;
	return 0;
}

static int send_all(struct client *c, const char *p, size_t len, long long deadline)
{
	while (len) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int client_call(struct client *c, const char *method, const char *target, const json_t *body,
		int *status, json_t **resp, char *err, size_t err_size)
{
	long long deadline = now_ms() + CLIENT_TIMEOUT_MS;
	char *text = NULL, *req = NULL;
	size_t req_len;
	struct http_msg m;
	int e, eof = 0;

	*resp = NULL;
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			return -ENOMEM;
	}
	e = http_format_request(&req, &req_len, method, target, text, text ? strlen(text) : 0);
	free(text);
	if (e)
		return e;
	e = send_all(c, req, req_len, deadline);
	free(req);
	if (e) {
		snprintf(err, err_size, "sending to the agent: %s", strerror(-e));
		return e;
	}
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		long long left;
		ssize_t n;

		e = c->len ? http_parse_response(c->buf, c->len, eof, &m) : -EAGAIN;
		if (e != -EAGAIN || eof)
			break;
		left = deadline - now_ms();
		if (left <= 0) {
			e = -ETIMEDOUT;
			break;
		}
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if (c->cap - c->len < 65536) {
			char *p = realloc(c->buf, c->cap + 65536);

			if (!p)
				return -ENOMEM;
			c->buf = p;
			c->cap += 65536;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			e = -errno;
			break;
		}
		if (n == 0)
			eof = 1;
		c->len += n;
	}
	if (e) {
		snprintf(err, err_size, "reading the agent's answer: %s",
			 e == -EAGAIN ? "connection closed early" :
			 e == -EBADMSG ? "malformed response" :
					 strerror(-e));
		return e == -EAGAIN ? -EPIPE : e;
	}
	*status = m.status;
	if (m.body_len) {
		json_error_t jerr;

		*resp = json_loadb(m.body, m.body_len, 0, &jerr);
		if (!*resp) {
			snprintf(err, err_size, "the agent's answer is not JSON: %s", jerr.text);
			return -EBADMSG;
		}
	}
	memmove(c->buf, c->buf + m.total_len, c->len - m.total_len);
	c->len -= m.total_len;
	return 0;
}

void client_close(struct client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

const char *client_error_message(const json_t *resp, int status, char *buf, size_t size)
{
	const char *msg = NULL;

	json_unpack((json_t *)resp, "{s:{s:s}}", "error", "message", &msg);
	if (msg)
		return msg;
	snprintf(buf, size, "the agent answered HTTP %d", status);
	return buf;
}
