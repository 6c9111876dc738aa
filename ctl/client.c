/*
 * Blocking agent client with bounded waits: every read and write has a deadline.
 *
 * Both transports end in one connected stream socket (c->fd): the agent's Unix socket, or one
 * end of a socketpair whose other end is ssh's stdin and stdout. So the HTTP code below is the
 * same for both, and writes use MSG_NOSIGNAL: a dead ssh is an EPIPE, never a SIGPIPE.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "http.h"

extern char **environ;

/*
 * How long close waits for ssh to end by itself before SIGTERM, and then before SIGKILL. A
 * clean end takes milliseconds but several processes on both hosts (ssh, sshd, the bridge,
 * the agent) must run for it: the grace leaves room for a loaded machine.
 */
#define SSH_EXIT_GRACE_MS 2000
#define SSH_TERM_GRACE_MS 500
/* How long a failed call waits for ssh's exit status, to say why the transport died. */
#define SSH_STATUS_WAIT_MS 1000
/* The tail of ssh's stderr kept for messages. */
#define SSH_STDERR_KEEP 1024

#define FL_XSTR(x) #x
#define FL_STR(x) FL_XSTR(x)

struct client {
	int fd;
	char desc[512]; /* the address as a URL, for messages */
	char *buf;
	size_t len, cap;
	/* A request being sent without waiting (client_start): out[out_off..out_len). */
	char *out;
	size_t out_len, out_off;
	bool eof; /* the peer closed its side: what buf holds is all there is */
	/* ssh:// only: the ssh process (its own process group), its stderr and exit status. */
	pid_t ssh_pid;
	int ssh_reaped;
	int ssh_status;
	int err_fd;
	char errbuf[SSH_STDERR_KEEP + 1];
	size_t errlen;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int client_unix_socket(const char *path, char *err, size_t err_size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_size, "socket path unix://%s is longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = -errno;
		snprintf(err, err_size, "socket: %s", strerror(-e));
		return e;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = -errno;
		snprintf(err, err_size, "cannot connect to the agent at unix://%s: %s%s", path,
			 strerror(-e),
			 e == -ENOENT || e == -ECONNREFUSED ? " (is faultlined running?)"
			 : e == -EACCES			    ? " (root or group faultline needed)"
							    : "");
		close(fd);
		return e;
	}
	return fd;
}

/* Keep the newest SSH_STDERR_KEEP bytes of ssh's stderr; at EOF stop watching it. */
static void drain_stderr(struct client *c)
{
	char tmp[4096];

	while (c->err_fd >= 0) {
		ssize_t n = read(c->err_fd, tmp, sizeof(tmp));
		size_t k;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(c->err_fd);
			c->err_fd = -1;
			return;
		}
		k = (size_t)n;
		if (k >= SSH_STDERR_KEEP) {
			memcpy(c->errbuf, tmp + k - SSH_STDERR_KEEP, SSH_STDERR_KEEP);
			c->errlen = SSH_STDERR_KEEP;
		} else {
			size_t keep =
				c->errlen + k > SSH_STDERR_KEEP ? SSH_STDERR_KEEP - k : c->errlen;

			memmove(c->errbuf, c->errbuf + c->errlen - keep, keep);
			memcpy(c->errbuf + keep, tmp, k);
			c->errlen = keep + k;
		}
	}
}

/* Reap ssh if it has ended (never blocks). Returns 1 once reaped. */
static int ssh_reap(struct client *c)
{
	int st;
	pid_t r;

	if (c->ssh_reaped)
		return 1;
	do
		r = waitpid(c->ssh_pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == c->ssh_pid) {
		c->ssh_status = st;
		c->ssh_reaped = 1;
	} else if (r < 0) {
		/* ECHILD: someone else reaped it (SIGCHLD ignored); its status is lost. */
		c->ssh_status = -1;
		c->ssh_reaped = 1;
	}
	return c->ssh_reaped;
}

/* Wait up to ms for ssh to end, draining its stderr meanwhile. Returns 1 once reaped. */
static int ssh_wait(struct client *c, long long ms)
{
	long long deadline = now_ms() + ms;

	while (!ssh_reap(c)) {
		long long left = deadline - now_ms();
		struct pollfd pfd = { .fd = c->err_fd, .events = POLLIN };

		if (left <= 0)
			return 0;
		/* Its stderr ends when it exits; poll it, or nap briefly once it has ended. */
		if (poll(&pfd, c->err_fd >= 0 ? 1 : 0, (int)(left < 10 ? left : 10)) > 0)
			drain_stderr(c);
	}
	drain_stderr(c);
	return 1;
}

/* Append ssh's exit status and stderr to a failure message, so the user sees why. */
static void ssh_explain(struct client *c, char *err, size_t err_size)
{
	size_t n = strlen(err);
	char tail[SSH_STDERR_KEEP + 1];
	size_t tl = 0;

	if (n >= err_size - 1)
		return;
	if (!c->ssh_reaped) {
		snprintf(err + n, err_size - n, "; ssh is still running");
	} else if (c->ssh_status == -1) {
		snprintf(err + n, err_size - n, "; ssh ended (exit status unknown)");
	} else if (WIFSIGNALED(c->ssh_status)) {
		snprintf(err + n, err_size - n, "; ssh was killed by signal %d",
			 WTERMSIG(c->ssh_status));
	} else {
		int code = WEXITSTATUS(c->ssh_status);

		snprintf(err + n, err_size - n, "; ssh exited with status %d%s", code,
			 code == 255   ? " (ssh failed: connecting, authenticating, or the session was lost)"
			 : code == 127 ? " (the remote shell found no faultctl: install it there "
					 "or set " CLIENT_REMOTE_FAULTCTL_ENV ")"
			 : code == 126 ? " (the remote faultctl is not executable)"
			 : code == 3 ? " (the remote faultctl dial-stdio could not reach the agent)"
				     : "");
	}
	/* ssh's own words, one line: newlines become "; ", trailing whitespace dropped. */
	for (size_t i = 0; i < c->errlen; i++) {
		char ch = c->errbuf[i];

		if (ch == '\r')
			continue;
		if (ch == '\n') {
			if (tl && i + 1 < c->errlen) {
				tail[tl++] = ';';
				tail[tl++] = ' ';
			}
			continue;
		}
		if (tl < sizeof(tail) - 3)
			tail[tl++] = (unsigned char)ch < 0x20 ? ' ' : ch;
	}
	while (tl && (tail[tl - 1] == ' ' || tail[tl - 1] == ';'))
		tl--;
	tail[tl] = '\0';
	n = strlen(err);
	if (tl && n < err_size - 1)
		snprintf(err + n, err_size - n, "; ssh said: %s", tail);
}

static int fd_above_stdio(int *fd)
{
	int nfd;

	if (*fd > STDERR_FILENO)
		return 0;
	nfd = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (nfd < 0)
		return -errno;
	close(*fd);
	*fd = nfd;
	return 0;
}

static int ssh_connect(const struct agent_addr *addr, struct client *c, char *err, size_t err_size)
{
	const char *ssh = getenv(CLIENT_SSH_ENV);
	struct addr_ssh_cmd cmd;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	int sv[2], ep[2], e;

	if (!ssh || !*ssh)
		ssh = "ssh";
	e = addr_ssh_command(addr, ssh, getenv(CLIENT_REMOTE_FAULTCTL_ENV), &cmd, err, err_size);
	if (e)
		return e;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		e = -errno;
		snprintf(err, err_size, "%s: socketpair: %s", c->desc, strerror(-e));
		return e;
	}
	if (pipe2(ep, O_CLOEXEC)) {
		e = -errno;
		snprintf(err, err_size, "%s: pipe: %s", c->desc, strerror(-e));
		goto close_sv;
	}
	/*
	 * The child's ends are dup2()ed onto 0, 1 and 2, which keeps close-on-exec when source and
	 * target are the same fd: when faultctl runs with stdio closed, move them above 2 first.
	 */
	e = fd_above_stdio(&sv[1]);
	if (!e)
		e = fd_above_stdio(&ep[1]);
	/* Our end of ssh's stderr is drained whenever it has data, never waited on. */
	if (!e && fcntl(ep[0], F_SETFL, O_NONBLOCK))
		e = -errno;
	if (e) {
		snprintf(err, err_size, "%s: fcntl: %s", c->desc, strerror(-e));
		goto close_ep;
	}
	e = -posix_spawn_file_actions_init(&fa);
	if (e)
		goto close_ep;
	e = -posix_spawnattr_init(&attr);
	if (e)
		goto destroy_fa;
	/*
	 * ssh gets its own process group: a Ctrl-C at the terminal must reach faultctl alone,
	 * which still needs the transport to revert the faults. Signals faultctl ignores or
	 * blocks are reset for ssh.
	 */
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGCHLD);
	e = -posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						     POSIX_SPAWN_SETSIGDEF);
	if (!e)
		e = -posix_spawnattr_setpgroup(&attr, 0);
	if (!e)
		e = -posix_spawnattr_setsigmask(&attr, &none);
	if (!e)
		e = -posix_spawnattr_setsigdefault(&attr, &dfl);
	if (!e)
		e = -posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
	if (!e)
		e = -posix_spawn_file_actions_adddup2(&fa, sv[1], STDOUT_FILENO);
	if (!e)
		e = -posix_spawn_file_actions_adddup2(&fa, ep[1], STDERR_FILENO);
	if (e) {
		snprintf(err, err_size, "%s: preparing to run ssh: %s", c->desc, strerror(-e));
		goto destroy_attr;
	}
	e = -posix_spawnp(&c->ssh_pid, ssh, &fa, &attr, (char *const *)cmd.argv, environ);
	if (e) {
		snprintf(err, err_size,
			 "%s: cannot run the ssh client '%s': %s (install "
			 "openssh-client, or set %s to your ssh program)",
			 c->desc, ssh, strerror(-e), CLIENT_SSH_ENV);
		c->ssh_pid = 0;
		goto destroy_attr;
	}
	c->fd = sv[0];
	c->err_fd = ep[0];
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	close(ep[1]);
	return 0;

destroy_attr:
	posix_spawnattr_destroy(&attr);
destroy_fa:
	posix_spawn_file_actions_destroy(&fa);
close_ep:
	close(ep[0]);
	close(ep[1]);
close_sv:
	close(sv[0]);
	close(sv[1]);
	return e;
}

int client_connect(const struct agent_addr *addr, struct client **out, char *err, size_t err_size)
{
	struct client *c;
	int e;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = -1;
	c->err_fd = -1;
	addr_format(addr, c->desc, sizeof(c->desc));
	if (addr->transport == AGENT_SSH) {
		e = ssh_connect(addr, c, err, err_size);
	} else {
		e = client_unix_socket(addr->path, err, err_size);
		if (e >= 0) {
			c->fd = e;
			e = 0;
		}
	}
	if (e) {
		free(c);
		return e;
	}
	*out = c;
	return 0;
}

/* Wait for fd to be ready, until the deadline, draining ssh's stderr meanwhile. */
static int wait_fd(struct client *c, short events, long long deadline)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = c->fd, .events = events },
			{ .fd = c->err_fd, .events = POLLIN },
		};
		long long left = deadline - now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(pfd, c->err_fd >= 0 ? 2 : 1, (int)left);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		if (c->err_fd >= 0 && pfd[1].revents)
			drain_stderr(c);
		if (pfd[0].revents)
			return 0;
	}
}

static int send_all(struct client *c, const char *p, size_t len, long long deadline)
{
	while (len) {
		ssize_t n;
		int e = wait_fd(c, POLLOUT, deadline);

		if (e)
			return e;
		n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
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

/* A failed call: for ssh://, wait briefly for ssh's status and add it and its stderr. */
static void call_failed(struct client *c, int e, char *err, size_t err_size)
{
	if (!c->ssh_pid)
		return;
	/* A timeout says the transport hangs: do not wait more, show what ssh said so far. */
	if (e == -ETIMEDOUT)
		drain_stderr(c);
	else
		ssh_wait(c, SSH_STATUS_WAIT_MS);
	ssh_explain(c, err, err_size);
}

/*
 * Receive what the socket has into c->buf (grown by 64 KiB when less is free), without
 * waiting; *n bytes were added, 0 at the end of the stream. 0, -EAGAIN when nothing was
 * there after all (or a signal came), -ENOMEM or -errno.
 */
static int recv_chunk(struct client *c, ssize_t *n)
{
	if (c->cap - c->len < 65536) {
		char *p = realloc(c->buf, c->cap + 65536);

		if (!p)
			return -ENOMEM;
		c->buf = p;
		c->cap += 65536;
	}
	*n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
	if (*n < 0)
		return errno == EINTR || errno == EAGAIN ? -EAGAIN : -errno;
	c->len += (size_t)*n;
	return 0;
}


/* The message of a failed send, for both ways of calling. */
static void send_error(struct client *c, int e, char *err, size_t err_size)
{
	snprintf(err, err_size, "sending to the agent at %s: %s", c->desc,
		 e == -ETIMEDOUT ? "not accepted within " FL_STR(CLIENT_TIMEOUT_MS) " ms"
		 : c->ssh_pid && (e == -EPIPE || e == -ECONNRESET)
			 ? "the ssh connection has ended"
			 : strerror(-e));
}

/*
 * The message of a failed read of the answer, for both ways of calling. Returns the error
 * to report: an early close is -EPIPE.
 */
static int read_error(struct client *c, int e, char *err, size_t err_size)
{
	/* ssh that exits with our request unread resets the socketpair: also an early close. */
	int closed = e == -EAGAIN || (c->ssh_pid && (e == -ECONNRESET || e == -EPIPE));

	snprintf(err, err_size, "reading the agent's answer from %s: %s", c->desc,
		 closed && c->ssh_pid ? "the ssh connection ended before the agent answered"
		 : closed	      ? "connection closed early"
		 : e == -EBADMSG      ? "malformed response"
		 : e == -ETIMEDOUT    ? "no answer within " FL_STR(CLIENT_TIMEOUT_MS) " ms"
				      : strerror(-e));
	return closed ? -EPIPE : e;
}

/*
 * A whole answer in c->buf: its status and JSON body, and the buffer moves past it. -EAGAIN
 * while incomplete (and the peer still open), -EBADMSG for a malformed head, -EPROTO with err
 * set for a body that is not JSON.
 */
static int take_answer(struct client *c, int *status, json_t **resp, char *err, size_t err_size)
{
	struct http_msg m;
	int e;

	e = c->len ? http_parse_response(c->buf, c->len, c->eof, &m) : -EAGAIN;
	if (e)
		return e;
	*status = m.status;
	if (m.body_len) {
		json_error_t jerr;

		*resp = json_loadb(m.body, m.body_len, 0, &jerr);
		if (!*resp) {
			snprintf(err, err_size, "the agent's answer is not JSON: %s", jerr.text);
			return -EPROTO;
		}
	}
	memmove(c->buf, c->buf + m.total_len, c->len - m.total_len);
	c->len -= m.total_len;
	return 0;
}

/* Format a request into c->out. 0 or -ENOMEM. */
static int queue_request(struct client *c, const char *method, const char *target,
			 const json_t *body)
{
	char *text = NULL;
	int e;

	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			return -ENOMEM;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	e = http_format_request(&c->out, &c->out_len, method, target, text,
				text ? strlen(text) : 0);
	free(text);
	return e;
}

/*
 * Read until take_answer() has the whole answer or the exchange fails: waiting for the socket
 * until deadline (client_call()), or with deadline -1 reading only what is there
 * (client_finish(): -EAGAIN until the fd is readable again). 0 with *raw 0: the answer is in;
 * 0 with *raw set: the failure, for read_error() to put in words. Else what the caller
 * returns as it is: -EAGAIN, -ENOMEM, or -EBADMSG for an answer that is not HTTP or JSON.
 */
static int read_answer(struct client *c, long long deadline, int *status, json_t **resp, char *err,
		       size_t err_size, int *raw)
{
	ssize_t n;
	int e;

	for (;;) {
		e = take_answer(c, status, resp, err, err_size);
		if (e == -EPROTO)
			return -EBADMSG;
		if (e != -EAGAIN || c->eof)
			break;
		if (deadline >= 0) {
			e = wait_fd(c, POLLIN, deadline);
			if (e)
				break;
		}
		e = recv_chunk(c, &n);
		if (e == -EAGAIN && deadline >= 0)
			continue;
		if (e == -EAGAIN || e == -ENOMEM)
			return e;
		if (e)
			break;
		if (n == 0)
			c->eof = true;
	}
	*raw = e;
	return 0;
}

int client_call(struct client *c, const char *method, const char *target, const json_t *body,
		int *status, json_t **resp, char *err, size_t err_size)
{
	long long deadline = now_ms() + CLIENT_TIMEOUT_MS;
	int e, raw;

	*resp = NULL;
	c->eof = false;
	e = queue_request(c, method, target, body);
	if (e)
		return e;
	e = send_all(c, c->out, c->out_len, deadline);
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	if (e) {
		send_error(c, e, err, err_size);
		call_failed(c, e, err, err_size);
		return e;
	}
	e = read_answer(c, deadline, status, resp, err, err_size, &raw);
	if (e || !raw)
		return e;
	e = read_error(c, raw, err, err_size);
	call_failed(c, raw, err, err_size);
	return e;
}

/* Non-blocking use (client.h). */

int client_fd(const struct client *c)
{
	return c->fd;
}

int client_flush(struct client *c, char *err, size_t err_size)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return -EAGAIN;
		if (n < 0) {
			int e = -errno;

			send_error(c, e, err, err_size);
			client_explain(c, err, err_size);
			return e;
		}
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	return 0;
}

int client_start(struct client *c, const char *method, const char *target, const json_t *body,
		 char *err, size_t err_size)
{
	int e;

	c->eof = false;
	e = queue_request(c, method, target, body);
	if (e) {
		snprintf(err, err_size, "out of memory");
		return e;
	}
	return client_flush(c, err, err_size);
}

int client_finish(struct client *c, int *status, json_t **resp, char *err, size_t err_size)
{
	int e, raw;

	*resp = NULL;
	drain_stderr(c);
	e = read_answer(c, -1, status, resp, err, err_size, &raw);
	if (e || !raw)
		return e;
	e = read_error(c, raw, err, err_size);
	client_explain(c, err, err_size);
	return e;
}

int client_stream_read(struct client *c)
{
	ssize_t n;
	int e;

	drain_stderr(c);
	/* One read per call: a level-triggered loop calls again while more is there. */
	e = recv_chunk(c, &n);
	if (e == -EAGAIN)
		return 0;
	if (e)
		return e == -ECONNRESET ? -EPIPE : e;
	return n ? 0 : -EPIPE;
}

int client_stream_take(struct client *c, json_t **line)
{
	char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
	size_t n;

	*line = NULL;
	if (!nl)
		return -EAGAIN;
	n = (size_t)(nl - c->buf);
	*line = json_loadb(c->buf, n, 0, NULL);
	memmove(c->buf, c->buf + n + 1, c->len - n - 1);
	c->len -= n + 1;
	return 0;
}

void client_explain(struct client *c, char *err, size_t err_size)
{
	if (!c->ssh_pid)
		return;
	/* Without waiting: what ssh said so far, and its status if it has ended. */
	drain_stderr(c);
	ssh_reap(c);
	ssh_explain(c, err, err_size);
}

/* Read what is there into c->buf, waiting until deadline. 0, -ETIMEDOUT, -EPIPE or -errno. */
static int read_more(struct client *c, long long deadline)
{
	for (;;) {
		ssize_t n;
		int e = wait_fd(c, POLLIN, deadline);

		if (e)
			return e;
		e = recv_chunk(c, &n);
		if (e == -EAGAIN)
			continue;
		if (e)
			return e == -ECONNRESET ? -EPIPE : e;
		return n ? 0 : -EPIPE;
	}
}

int client_stream_open(struct client *c, const char *target, char *err, size_t err_size)
{
	long long deadline = now_ms() + CLIENT_TIMEOUT_MS;
	struct http_msg m;
	char *req = NULL, *end;
	size_t req_len, head;
	int e;

	e = http_format_request(&req, &req_len, "GET", target, NULL, 0);
	if (e)
		return e;
	e = send_all(c, req, req_len, deadline);
	free(req);
	while (!e && !(c->len && (end = memmem(c->buf, c->len, "\r\n\r\n", 4))))
		e = read_more(c, deadline);
	if (e) {
		snprintf(err, err_size, "opening the event stream of %s: %s", c->desc,
			 e == -EPIPE ? "connection closed early" : strerror(-e));
		call_failed(c, e, err, err_size);
		return e;
	}
	/* The head alone is a whole response without a length; the lines follow it. */
	head = (size_t)(end - c->buf) + 4;
	e = http_parse_response(c->buf, head, true, &m);
	if (e || m.status != 200) {
		snprintf(err, err_size, "opening the event stream of %s: %s", c->desc,
			 e ? "malformed response" : "the agent refused it");
		return e ? -EBADMSG : -EREMOTE;
	}
	memmove(c->buf, c->buf + head, c->len - head);
	c->len -= head;
	return 0;
}

/*
 * End ssh: closing our end is its EOF, after which it ends the session and exits by itself;
 * one that does not is terminated, then killed, with its whole process group (a ProxyCommand
 * it started). The group is signalled only while ssh is unreaped, so the id is still ours.
 */
static void ssh_end(struct client *c)
{
	if (ssh_wait(c, SSH_EXIT_GRACE_MS))
		return;
	kill(-c->ssh_pid, SIGTERM);
	if (ssh_wait(c, SSH_TERM_GRACE_MS))
		return;
	kill(-c->ssh_pid, SIGKILL);
	while (!ssh_reap(c))
		ssh_wait(c, 100);
}

void client_close(struct client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->ssh_pid)
		ssh_end(c);
	if (c->err_fd >= 0)
		close(c->err_fd);
	free(c->buf);
	free(c->out);
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
