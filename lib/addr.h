/* Agent addresses: "unix:///path/to/socket", from --agent or FAULTLINE_AGENT. */
#ifndef FL_ADDR_H
#define FL_ADDR_H

#include <stddef.h>

#define AGENT_DEFAULT_SOCKET "/run/faultline/agent.sock"
#define AGENT_ENV "FAULTLINE_AGENT"

enum agent_transport {
	AGENT_UNIX,
};

struct agent_addr {
	enum agent_transport transport;
	char path[108]; /* sizeof(sun_path) */
};

/*
 * Parse an agent address. Returns 0, or -EINVAL with a message in err naming what is wrong.
 */
int addr_parse(const char *s, struct agent_addr *out, char *err, size_t err_size);

/* The address to use: the explicit one, else $FAULTLINE_AGENT, else the default socket. */
int addr_resolve(const char *explicit_addr, struct agent_addr *out, char *err, size_t err_size);

#endif
