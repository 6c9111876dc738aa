/*
 * faultctl dial-stdio: the remote half of the ssh:// transport. ssh runs it on the agent's
 * host; it connects to the agent's Unix socket and copies bytes both ways between that socket
 * and its stdin/stdout, the way `docker system dial-stdio` does. No listener is opened, and
 * the agent sees this process as its peer, so SO_PEERCRED names the ssh user and the
 * $SSH_CONNECTION in our environment lets network faults exempt the controller's session.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "cmdline.h"
#include "ctl.h"

#define BRIDGE_BUF 65536
/*
 * stdin and stdout stay blocking (they may be a terminal shared with a shell); after POLLOUT a
 * pipe has room for at least PIPE_BUF bytes, so writes of that size never block.
 */
#define STDIO_CHUNK 4096

struct dial_cfg {
	const char *agent;
};

static const struct ctl_opt dial_opts[] = {
	{.name = "agent",
	 .kind = CTL_OPT_STRING,
	 .arg = "unix:///PATH",
	 .offset = offsetof(struct dial_cfg, agent),
	 .help = "the agent's socket (default: as for every command)"},
	{.name = "help", .short_name = 'h', .kind = CTL_OPT_HELP},
	{0},
};

static const struct ctl_cmdline dial_cl = {
	.cmd = "faultctl dial-stdio",
	.head = "Usage: faultctl dial-stdio [--agent unix:///PATH]\n"
		"\n"
		"Connect to a local agent socket and copy bytes between it and stdin/stdout.\n"
		"This is the remote end of --agent ssh://...: faultctl runs it on the agent's host\n"
		"through ssh (docs/transport.md); people do not normally run it themselves.\n"
		"\n",
	.tail = "Exit status: 0 when either side closes, 2 for a bad address, 3 when the agent\n"
		"cannot be reached.\n",
	.opts = dial_opts,
};

void cmd_dial_stdio_usage(void)
{
	ctl_cmdline_usage(&dial_cl);
}

struct pipe_buf {
	char data[BRIDGE_BUF];
	size_t off, len;
};

static int is_gone(int err)
{
	return err == EPIPE || err == ECONNRESET;
}

/* Read src into the empty buffer b. Returns 1 at EOF of src (or when it is gone), 0, -errno. */
static int fill(int src, struct pipe_buf *b, size_t max, int is_sock)
{
	ssize_t n;

	do
		n = is_sock ? recv(src, b->data, max, MSG_DONTWAIT) : read(src, b->data, max);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0)
		return is_gone(errno) ? 1 : -errno;
	if (n == 0)
		return 1;
	b->off = 0;
	b->len = (size_t)n;
	return 0;
}

/* Write (some of) b to dst. Returns 0 or -errno. */
static int drain(int dst, struct pipe_buf *b, int is_sock)
{
	size_t want = b->len - b->off;
	ssize_t n;

	if (!is_sock && want > STDIO_CHUNK)
		want = STDIO_CHUNK;
	do
		n = is_sock ? send(dst, b->data + b->off, want, MSG_NOSIGNAL | MSG_DONTWAIT)
			    : write(dst, b->data + b->off, want);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0)
		return -errno;
	b->off += (size_t)n;
	if (b->off == b->len)
		b->off = b->len = 0;
	return 0;
}

/*
 * The copy loop. stdin EOF: pass everything on, then shut the socket's write side (the agent
 * answers what it got and closes). Socket EOF: pass everything on, then exit; likewise when
 * stdout's reader is gone. Returns 0 when a side closed, -errno on an I/O error.
 */
static int bridge(int sock)
{
	static struct pipe_buf up, down; /* stdin -> agent, agent -> stdout */
	int in_eof = 0, sock_eof = 0, shut = 0;

	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = STDIN_FILENO, .events = (!in_eof && !up.len) ? POLLIN : 0 },
			{ .fd = sock,
			  .events = (short)((up.len ? POLLOUT : 0) |
					    (!sock_eof && !down.len ? POLLIN : 0)) },
			/* Always watched: POLLERR/POLLHUP says the reader of stdout is gone. */
			{ .fd = STDOUT_FILENO, .events = down.len ? POLLOUT : 0 },
		};
		int r;

		/*
		 * A hung-up pipe or socket reports POLLHUP even when no event is asked for: leave
		 * out what we are not waiting on, or the loop would spin.
		 */
		if (!pfd[0].events)
			pfd[0].fd = -1;
		if (!pfd[1].events)
			pfd[1].fd = -1;
		if (in_eof && !up.len && !shut) {
			shutdown(sock, SHUT_WR);
			shut = 1;
		}
		if (sock_eof && !down.len)
			return 0;
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[2].revents & (POLLERR | POLLHUP | POLLNVAL))
			return 0;
		if (pfd[0].revents & POLLNVAL || pfd[1].revents & POLLNVAL)
			return -EBADF;
		if (pfd[0].revents) {
			r = fill(STDIN_FILENO, &up, sizeof(up.data), 0);
			if (r < 0)
				return r;
			in_eof = r;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR) && !sock_eof && !down.len) {
			r = fill(sock, &down, sizeof(down.data), 1);
			if (r < 0)
				return r;
			sock_eof = r;
		}
		if (pfd[1].revents & (POLLOUT | POLLERR) && up.len) {
			r = drain(sock, &up, 1);
			/* The agent closed while we still had bytes for it: nobody will read them.
			 */
			if (r && is_gone(-r))
				return 0;
			if (r)
				return r;
		}
		if (pfd[2].revents & POLLOUT && down.len) {
			r = drain(STDOUT_FILENO, &down, 0);
			if (r && is_gone(-r))
				return 0;
			if (r)
				return r;
		}
	}
}

int cmd_dial_stdio(const struct ctl_opts *opts, int argc, char **argv)
{
	struct dial_cfg cfg = {.agent = opts->agent};
	struct agent_addr addr;
	char err[512];
	int first, sock, ret;

	first = ctl_cmdline_parse(&dial_cl, argc, argv, &cfg);
	if (first <= 0)
		return first ? CTL_EXIT_INVALID : CTL_EXIT_OK;
	if (first != argc) {
		fprintf(stderr, "faultctl dial-stdio: unexpected argument '%s'\n", argv[first]);
		return CTL_EXIT_INVALID;
	}
	if (addr_resolve(cfg.agent, &addr, err, sizeof(err))) {
		fprintf(stderr, "faultctl dial-stdio: %s\n", err);
		return CTL_EXIT_INVALID;
	}
	if (addr.transport != AGENT_UNIX) {
		fprintf(stderr,
			"faultctl dial-stdio: the agent address must be a local unix:///PATH "
			"(dial-stdio runs on the agent's host)\n");
		return CTL_EXIT_INVALID;
	}
	sock = client_unix_socket(addr.path, err, sizeof(err));
	if (sock < 0) {
		fprintf(stderr, "faultctl dial-stdio: %s\n", err);
		return CTL_EXIT_INFRA;
	}
	/* A write to a closed stdout is then EPIPE, which the loop treats as "closed". */
	signal(SIGPIPE, SIG_IGN);
	ret = bridge(sock);
	close(sock);
	if (ret) {
		fprintf(stderr, "faultctl dial-stdio: copying to or from unix://%s: %s\n",
			addr.path, strerror(-ret));
		return CTL_EXIT_INFRA;
	}
	return CTL_EXIT_OK;
}
