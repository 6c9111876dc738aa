/* Agent address parsing, shared by faultctl and the tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

#define SUPPORTED "unix:///PATH, ssh://[user@]host[:port][/PATH]"

/* Longest network interface name (IFNAMSIZ - 1), the zone of a link-local IPv6 address. */
#define ZONE_MAX 15

static int name_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-' || ch == '_';
}

static int parse_unix(const char *s, const char *path, struct agent_addr *out, char *err,
		      size_t err_size)
{
	if (path[0] != '/') {
		snprintf(err, err_size,
			 "agent address '%s': the socket path must be absolute (unix:///PATH)", s);
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(out->path)) {
		snprintf(err, err_size, "agent address '%s': socket path longer than %zu bytes", s,
			 sizeof(out->path) - 1);
		return -EINVAL;
	}
	out->transport = AGENT_UNIX;
	strcpy(out->path, path);
	return 0;
}

/*
 * The user part of ssh://user@host: a login name. Restricted to the portable set so that it
 * can never be taken for an ssh option or need quoting anywhere.
 */
static int parse_user(const char *s, const char *u, size_t len, struct agent_addr *out, char *err,
		      size_t err_size)
{
	if (!len) {
		snprintf(err, err_size, "agent address '%s': empty user name before '@'", s);
		return -EINVAL;
	}
	if (len > ADDR_USER_MAX) {
		snprintf(err, err_size, "agent address '%s': user name longer than %d bytes", s,
			 ADDR_USER_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!name_char(u[i]) || (i == 0 && u[i] == '-')) {
			snprintf(err, err_size,
				 "agent address '%s': user name '%.*s' has an invalid character "
				 "'%c' (letters, digits, '.', '_', '-'; not starting with '-')",
				 s, (int)len, u, u[i]);
			return -EINVAL;
		}
	}
	memcpy(out->user, u, len);
	out->user[len] = '\0';
	return 0;
}

/* "[v6addr]" or "[v6addr%zone]" (RFC 6874 spells the '%' as "%25"; both are accepted). */
static int parse_ipv6(const char *s, const char *h, size_t len, struct agent_addr *out, char *err,
		      size_t err_size)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *pct = memchr(h, '%', len);
	size_t alen = pct ? (size_t)(pct - h) : len;
	struct in6_addr a6;

	if (!alen || alen >= sizeof(addr)) {
		snprintf(err, err_size, "agent address '%s': '[%.*s]' is not an IPv6 address", s,
			 (int)len, h);
		return -EINVAL;
	}
	memcpy(addr, h, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET6, addr, &a6) != 1) {
		snprintf(err, err_size, "agent address '%s': '[%.*s]' is not an IPv6 address", s,
			 (int)len, h);
		return -EINVAL;
	}
	if (pct) {
		const char *zone = pct + 1;
		size_t zlen = len - alen - 1;

		if (zlen > 2 && !strncmp(zone, "25", 2)) {
			zone += 2;
			zlen -= 2;
		}
		if (!zlen || zlen > ZONE_MAX) {
			snprintf(err, err_size,
				 "agent address '%s': the IPv6 zone must be an interface name of "
				 "1 to %d characters",
				 s, ZONE_MAX);
			return -EINVAL;
		}
		for (size_t i = 0; i < zlen; i++) {
			if (!name_char(zone[i])) {
				snprintf(err, err_size,
					 "agent address '%s': the IPv6 zone '%.*s' is not an "
					 "interface name",
					 s, (int)zlen, zone);
				return -EINVAL;
			}
		}
		snprintf(out->host, sizeof(out->host), "%s%%%.*s", addr, (int)zlen, zone);
	} else {
		snprintf(out->host, sizeof(out->host), "%s", addr);
	}
	return 0;
}

/* A DNS name, an ssh config alias or an IPv4 address: dot-separated labels. */
static int parse_hostname(const char *s, const char *h, size_t len, struct agent_addr *out,
			  char *err, size_t err_size)
{
	size_t label = 0;

	if (len > ADDR_HOST_MAX) {
		snprintf(err, err_size, "agent address '%s': host name longer than %d bytes", s,
			 ADDR_HOST_MAX);
		return -EINVAL;
	}
	if (h[0] == '-') {
		snprintf(err, err_size, "agent address '%s': the host must not start with '-'", s);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!name_char(h[i])) {
			snprintf(err, err_size,
				 "agent address '%s': host '%.*s' has an invalid character '%c' "
				 "(letters, digits, '.', '_', '-'; IPv6 addresses in brackets)",
				 s, (int)len, h, h[i]);
			return -EINVAL;
		}
		if (h[i] != '.') {
			if (++label > 63) {
				snprintf(err, err_size,
					 "agent address '%s': host '%.*s' has a label longer than "
					 "63 characters",
					 s, (int)len, h);
				return -EINVAL;
			}
			continue;
		}
		/* An empty label; a single trailing dot (an absolute DNS name) is fine. */
		if (!label && !(i == len - 1 && i > 0)) {
			snprintf(err, err_size,
				 "agent address '%s': host '%.*s' has an empty label", s, (int)len,
				 h);
			return -EINVAL;
		}
		label = 0;
	}
	memcpy(out->host, h, len);
	out->host[len] = '\0';
	return 0;
}

static int parse_port(const char *s, const char *p, size_t len, struct agent_addr *out, char *err,
		      size_t err_size)
{
	int port = 0;

	if (!len) {
		snprintf(err, err_size, "agent address '%s': empty port after ':'", s);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9' || port > 65535) {
			snprintf(err, err_size,
				 "agent address '%s': port '%.*s' is not a number from 1 to 65535",
				 s, (int)len, p);
			return -EINVAL;
		}
		port = port * 10 + (p[i] - '0');
	}
	if (port < 1 || port > 65535) {
		snprintf(err, err_size,
			 "agent address '%s': port '%.*s' is not a number from 1 to 65535", s,
			 (int)len, p);
		return -EINVAL;
	}
	out->port = port;
	return 0;
}

/* The remote socket path: absolute, fits sun_path, no control characters. */
static int parse_remote_path(const char *s, const char *path, struct agent_addr *out, char *err,
			     size_t err_size)
{
	size_t len = strlen(path);

	/* "ssh://host/" names no socket: the remote default, like "ssh://host". */
	if (len <= 1)
		return 0;
	if (len >= sizeof(out->path)) {
		snprintf(err, err_size, "agent address '%s': socket path longer than %zu bytes", s,
			 sizeof(out->path) - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)path[i];

		if (ch < 0x20 || ch == 0x7f) {
			snprintf(err, err_size,
				 "agent address '%s': the socket path has a control character "
				 "(0x%02x)",
				 s, ch);
			return -EINVAL;
		}
	}
	memcpy(out->path, path, len + 1);
	return 0;
}

static int parse_ssh(const char *s, const char *auth, struct agent_addr *out, char *err,
		     size_t err_size)
{
	const char *end = strchr(auth, '/');
	const char *at, *host, *port = NULL, *host_end;
	size_t alen;
	int ret;

	if (!end)
		end = auth + strlen(auth);
	alen = (size_t)(end - auth);
	at = memchr(auth, '@', alen);
	if (at) {
		ret = parse_user(s, auth, (size_t)(at - auth), out, err, err_size);
		if (ret)
			return ret;
		host = at + 1;
		if (memchr(host, '@', (size_t)(end - host))) {
			snprintf(err, err_size, "agent address '%s': more than one '@'", s);
			return -EINVAL;
		}
	} else {
		host = auth;
	}
	if (host == end) {
		snprintf(err, err_size, "agent address '%s': no host (ssh://[user@]host[:port])",
			 s);
		return -EINVAL;
	}
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));

		if (!rb) {
			snprintf(err, err_size, "agent address '%s': '[' without a closing ']'", s);
			return -EINVAL;
		}
		if (rb + 1 != end && rb[1] != ':') {
			snprintf(err, err_size,
				 "agent address '%s': expected ':PORT' or '/PATH' after ']'", s);
			return -EINVAL;
		}
		ret = parse_ipv6(s, host + 1, (size_t)(rb - host - 1), out, err, err_size);
		if (ret)
			return ret;
		if (rb + 1 != end)
			port = rb + 2;
	} else {
		const char *colon = memchr(host, ':', (size_t)(end - host));

		host_end = colon ? colon : end;
		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
			snprintf(err, err_size,
				 "agent address '%s': an IPv6 address must be in brackets "
				 "(ssh://[2001:db8::1]:22)",
				 s);
			return -EINVAL;
		}
		if (host_end == host) {
			snprintf(err, err_size,
				 "agent address '%s': no host (ssh://[user@]host[:port])", s);
			return -EINVAL;
		}
		ret = parse_hostname(s, host, (size_t)(host_end - host), out, err, err_size);
		if (ret)
			return ret;
		if (colon)
			port = colon + 1;
	}
	if (port) {
		ret = parse_port(s, port, (size_t)(end - port), out, err, err_size);
		if (ret)
			return ret;
	}
	ret = parse_remote_path(s, end, out, err, err_size);
	if (ret)
		return ret;
	out->transport = AGENT_SSH;
	return 0;
}

int addr_parse(const char *s, struct agent_addr *out, char *err, size_t err_size)
{
	const char *sep = strstr(s, "://");
	size_t slen;

	memset(out, 0, sizeof(*out));
	if (!sep) {
		snprintf(err, err_size, "agent address '%s' has no scheme (expected " SUPPORTED ")",
			 s);
		return -EINVAL;
	}
	slen = (size_t)(sep - s);
	if (slen == 4 && !strncmp(s, "unix", 4))
		return parse_unix(s, sep + 3, out, err, err_size);
	if (slen == 3 && !strncmp(s, "ssh", 3)) {
		int ret = parse_ssh(s, sep + 3, out, err, err_size);

		if (ret)
			memset(out, 0, sizeof(*out));
		return ret;
	}
	snprintf(err, err_size,
		 "agent address '%s': unsupported scheme '%.*s' (supported: " SUPPORTED ")", s,
		 (int)slen, s);
	return -EINVAL;
}

const char *addr_error_reason(const char *s, const char *err)
{
	static const char head[] = "agent address '";
	size_t hl = sizeof(head) - 1, sl = strlen(s);

	if (strncmp(err, head, hl) || strncmp(err + hl, s, sl) || strncmp(err + hl + sl, "': ", 3))
		return err;
	return err + hl + sl + 3;
}

int addr_resolve(const char *explicit_addr, struct agent_addr *out, char *err, size_t err_size)
{
	const char *env = getenv(AGENT_ENV);

	if (explicit_addr)
		return addr_parse(explicit_addr, out, err, err_size);
	if (env && *env)
		return addr_parse(env, out, err, err_size);
	return addr_parse("unix://" AGENT_DEFAULT_SOCKET, out, err, err_size);
}

void addr_format(const struct agent_addr *a, char *buf, size_t size)
{
	const char *v6 = strchr(a->host, ':') ? "[" : "";

	if (a->transport == AGENT_UNIX) {
		snprintf(buf, size, "unix://%s", a->path);
		return;
	}
	snprintf(buf, size, "ssh://%s%s%s%s%s", a->user, *a->user ? "@" : "", v6, a->host,
		 *v6 ? "]" : "");
	if (a->port) {
		size_t n = strlen(buf);

		snprintf(buf + n, size > n ? size - n : 0, ":%d", a->port);
	}
	if (*a->path) {
		size_t n = strlen(buf);

		snprintf(buf + n, size > n ? size - n : 0, "%s", a->path);
	}
}

/*
 * Quote one word for the remote user's shell: ssh hands the remote side a single command
 * string, which sshd runs with "$SHELL -c".
 */
static int sq_append(char *buf, size_t size, size_t *len, const char *word)
{
	size_t n = *len;

	if (n + 3 > size)
		return -ENAMETOOLONG;
	buf[n++] = '\'';
	for (const char *p = word; *p; p++) {
		if (*p == '\'') {
			if (n + 5 > size)
				return -ENAMETOOLONG;
			memcpy(buf + n, "'\\''", 4);
			n += 4;
		} else {
			if (n + 2 > size)
				return -ENAMETOOLONG;
			buf[n++] = *p;
		}
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	*len = n;
	return 0;
}

/*
 * The remote faultctl command: words separated by blanks (e.g. "sudo -n /opt/fl/faultctl"),
 * each quoted, so no shell syntax of the remote user's shell ever applies to them.
 */
static int remote_words(char *buf, size_t size, size_t *len, const char *cmd)
{
	char word[512];
	int e;

	while (*cmd) {
		size_t n = strcspn(cmd, " \t");

		if (!n) {
			cmd++;
			continue;
		}
		if (n >= sizeof(word))
			return -ENAMETOOLONG;
		memcpy(word, cmd, n);
		word[n] = '\0';
		if (*len) {
			if (*len + 2 > size)
				return -ENAMETOOLONG;
			buf[(*len)++] = ' ';
			buf[*len] = '\0';
		}
		e = sq_append(buf, size, len, word);
		if (e)
			return e;
		cmd += n;
	}
	return 0;
}

static int raw_append(char *buf, size_t size, size_t *len, const char *text)
{
	size_t n = strlen(text);

	if (*len + n + 1 > size)
		return -ENAMETOOLONG;
	memcpy(buf + *len, text, n + 1);
	*len += n;
	return 0;
}

int addr_ssh_command(const struct agent_addr *a, const char *ssh, const char *remote,
		     struct addr_ssh_cmd *out, char *err, size_t err_size)
{
	char agent[sizeof("unix://") + sizeof(a->path)];
	size_t clen = 0;
	int argc = 0, e;

	memset(out, 0, sizeof(*out));
	if (!remote || !*remote)
		remote = "faultctl";
	e = remote_words(out->remote, sizeof(out->remote), &clen, remote);
	if (!e && !clen)
		e = sq_append(out->remote, sizeof(out->remote), &clen, "faultctl");
	if (!e)
		e = raw_append(out->remote, sizeof(out->remote), &clen, " dial-stdio");
	if (!e && *a->path) {
		snprintf(agent, sizeof(agent), "unix://%s", a->path);
		e = raw_append(out->remote, sizeof(out->remote), &clen, " --agent ");
		if (!e)
			e = sq_append(out->remote, sizeof(out->remote), &clen, agent);
	}
	if (e) {
		snprintf(err, err_size,
			 "the remote command for %s is too long (at most %zu bytes quoted; the "
			 "faultctl command is %zu bytes)",
			 a->host, sizeof(out->remote) - 1, strlen(remote));
		return e;
	}
	/*
	 * -T: no tty, the bytes are the protocol. BatchMode: never prompt (there is no one to
	 * answer; a missing key is an error). -x -a: the bridge needs no X11 or agent forwarding,
	 * so none is exposed to the remote host. Everything else comes from the user's ssh config.
	 * "--" ends ssh's options: the host can never be taken for one.
	 */
	out->argv[argc++] = ssh;
	out->argv[argc++] = "-T";
	out->argv[argc++] = "-x";
	out->argv[argc++] = "-a";
	out->argv[argc++] = "-o";
	out->argv[argc++] = "BatchMode=yes";
	if (*a->user) {
		out->argv[argc++] = "-l";
		out->argv[argc++] = a->user;
	}
	if (a->port) {
		snprintf(out->port, sizeof(out->port), "%d", a->port);
		out->argv[argc++] = "-p";
		out->argv[argc++] = out->port;
	}
	out->argv[argc++] = "--";
	out->argv[argc++] = a->host;
	out->argv[argc++] = out->remote;
	out->argv[argc] = NULL;
	return 0;
}
