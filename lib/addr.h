/*
 * Agent addresses, from --agent or FAULTLINE_AGENT: "unix:///path/to/socket" for a local
 * agent, "ssh://[user@]host[:port][/path/to/socket]" for an agent reached through the user's
 * ssh and a `faultctl dial-stdio` bridge on the remote host (docs/transport.md).
 */
#ifndef FL_ADDR_H
#define FL_ADDR_H

#include <stddef.h>

#define AGENT_DEFAULT_SOCKET "/run/faultline/agent.sock"
#define AGENT_ENV "FAULTLINE_AGENT"

/* Limits of the ssh:// parts; longer values are refused with the limit named. */
#define ADDR_USER_MAX 64
#define ADDR_HOST_MAX 253

enum agent_transport {
	AGENT_UNIX,
	AGENT_SSH,
};

struct agent_addr {
	enum agent_transport transport;
	/*
	 * unix: the local socket. ssh: the socket on the remote host, or "" for the remote
	 * faultctl's own default ($FAULTLINE_AGENT there, else AGENT_DEFAULT_SOCKET).
	 */
	char path[108]; /* sizeof(sun_path) */
	/* ssh only: "" when the URL names no user (ssh's config or the local user decides). */
	char user[ADDR_USER_MAX + 1];
	/* ssh only: a host name, an ssh config alias, an IPv4 or a bare IPv6 literal. */
	char host[ADDR_HOST_MAX + 1];
	/* ssh only: 0 when the URL names no port (ssh's config or 22 decides). */
	int port;
};

/*
 * Parse an agent address. Returns 0, or -EINVAL with a message in err naming what is wrong.
 */
int addr_parse(const char *s, struct agent_addr *out, char *err, size_t err_size);

/*
 * The reason alone from addr_parse's message for s ("agent address 's': REASON"), for callers
 * that name the address their own way; err itself when it has no such prefix.
 */
const char *addr_error_reason(const char *s, const char *err);

/* The address to use: the explicit one, else $FAULTLINE_AGENT, else the default socket. */
int addr_resolve(const char *explicit_addr, struct agent_addr *out, char *err, size_t err_size);

/* The address as a URL again (IPv6 hosts in brackets), for messages and reports. */
void addr_format(const struct agent_addr *a, char *buf, size_t size);

/* The ssh command line of an ssh:// address, built by addr_ssh_command(). */
struct addr_ssh_cmd {
	/* NULL-terminated; points into this struct and into the address: keep both in place. */
	const char *argv[16];
	char port[8];
	/* The remote command: quoted words, as sshd hands it to the remote user's shell. */
	char remote[1024];
};

/*
 * The argv that runs `ssh` (a program name or path) for the ssh:// address a, with the bridge
 * `REMOTE dial-stdio [--agent unix:///PATH]` as the remote command. remote is the remote
 * faultctl command, blank-separated words (NULL or "" for "faultctl"); every word is quoted
 * for the remote shell. Returns 0, or -ENAMETOOLONG with a message in err.
 */
int addr_ssh_command(const struct agent_addr *a, const char *ssh, const char *remote,
		     struct addr_ssh_cmd *out, char *err, size_t err_size);

#endif
