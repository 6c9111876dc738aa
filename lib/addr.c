/* Agent address parsing, shared by faultctl and the tests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int addr_parse(const char *s, struct agent_addr *out, char *err, size_t err_size)
{
	const char *sep = strstr(s, "://");
	const char *path;

	memset(out, 0, sizeof(*out));
	if (!sep) {
		snprintf(err, err_size, "agent address '%s' has no scheme (expected unix:///PATH)", s);
		return -EINVAL;
	}
	if (sep - s != 4 || strncmp(s, "unix", 4)) {
		snprintf(err, err_size,
			 "agent address '%s': unsupported scheme '%.*s' (supported: unix:///PATH)", s,
			 (int)(sep - s), s);
		return -EINVAL;
	}
	path = sep + 3;
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

int addr_resolve(const char *explicit_addr, struct agent_addr *out, char *err, size_t err_size)
{
	const char *env = getenv(AGENT_ENV);

	if (explicit_addr)
		return addr_parse(explicit_addr, out, err, err_size);
	if (env && *env)
		return addr_parse(env, out, err, err_size);
	return addr_parse("unix://" AGENT_DEFAULT_SOCKET, out, err, err_size);
}
