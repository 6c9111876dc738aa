/* Listen addresses (numeric) and URLs (numeric, or a DNS name for the backend); no I/O here. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

/* A DNS name as the backend URL may hold it: labels of letters, digits and hyphens. */
static int valid_name(const char *h)
{
	size_t label = 0, n = strlen(h);
	int alpha = 0;

	if (!n || n >= sizeof(((struct demo_endpoint *)0)->name))
		return 0;
	for (; *h; h++) {
		if (*h == '.') {
			if (!label)
				return 0;
			label = 0;
			continue;
		}
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      (*h >= '0' && *h <= '9') || *h == '-'))
			return 0;
		if (!((*h >= '0' && *h <= '9') || *h == '-'))
			alpha = 1;
		if (++label > 63)
			return 0;
	}
	/* A trailing dot is allowed (absolute name); all digits would be an address. */
	return alpha;
}

static int parse_hostport(const char *s, struct demo_endpoint *ep, int allow_name,
			  const char **why)
{
	const char *colon, *hs = s, *he;
	char host[64], *end;
	long port;

	memset(ep, 0, sizeof(*ep));
	if (s[0] == '[') {
		he = strchr(s, ']');
		if (!he || he[1] != ':') {
			*why = "expected [IPV6]:PORT";
			return -EINVAL;
		}
		hs = s + 1;
		colon = he + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			*why = "expected HOST:PORT with a numeric HOST";
			return -EINVAL;
		}
		he = colon;
	}
	if ((size_t)(he - hs) >= sizeof(host) || he == hs) {
		*why = "the host is empty or too long";
		return -EINVAL;
	}
	memcpy(host, hs, he - hs);
	host[he - hs] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 0 || port > 65535) {
		*why = "the port is not a number in [0, 65535]";
		return -EINVAL;
	}
	if (s[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ep->ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
			*why = "not a numeric IPv6 address";
			return -EINVAL;
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		ep->len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ep->ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons(port);
			ep->len = sizeof(*s4);
		} else if (allow_name && valid_name(host)) {
			strcpy(ep->name, host);
		} else if (allow_name) {
			*why = "not a numeric IPv4 address nor a DNS name";
			return -EINVAL;
		} else {
			*why = "not a numeric IPv4 address (names are not resolved here)";
			return -EINVAL;
		}
	}
	snprintf(ep->port_text, sizeof(ep->port_text), "%ld", port);
	if (strlen(s) >= sizeof(ep->host)) {
		*why = "too long";
		return -EINVAL;
	}
	strcpy(ep->host, s);
	strcpy(ep->path, "/");
	return 0;
}

int demo_parse_hostport(const char *s, struct demo_endpoint *ep, const char **why)
{
	return parse_hostport(s, ep, 0, why);
}

static int parse_url(const char *s, struct demo_endpoint *ep, int allow_name, const char **why)
{
	static const char scheme[] = "http://";
	const char *auth = s + sizeof(scheme) - 1, *slash;
	char hostport[80];
	int err;

	if (strncmp(s, scheme, sizeof(scheme) - 1)) {
		*why = "only http:// URLs are supported";
		return -EINVAL;
	}
	slash = strchr(auth, '/');
	if (!slash)
		slash = auth + strlen(auth);
	if ((size_t)(slash - auth) >= sizeof(hostport)) {
		*why = "the host and port are too long";
		return -EINVAL;
	}
	memcpy(hostport, auth, slash - auth);
	hostport[slash - auth] = '\0';
	err = parse_hostport(hostport, ep, allow_name, why);
	if (err)
		return err;
	if (!strcmp(ep->port_text, "0")) {
		*why = "port 0 cannot be called";
		return -EINVAL;
	}
	if (*slash) {
		if (strlen(slash) >= sizeof(ep->path) || strpbrk(slash, " \t\r\n")) {
			*why = "the path is too long or contains white space";
			return -EINVAL;
		}
		strcpy(ep->path, slash);
	}
	return 0;
}

int demo_parse_url(const char *s, struct demo_endpoint *ep, const char **why)
{
	return parse_url(s, ep, 0, why);
}

int demo_parse_backend_url(const char *s, struct demo_endpoint *ep, const char **why)
{
	return parse_url(s, ep, 1, why);
}
