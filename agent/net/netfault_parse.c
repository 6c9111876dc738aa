/*
 * The netfault module's text parsers: probabilities in the BPF program's fixed point, CIDRs,
 * and the exemption of an SSH session from $SSH_CONNECTION. Pure: libc only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netfault.h"

uint32_t netfault_prob(double p)
{
	double scaled;

	if (!(p > 0.0)) /* also NaN */
		return 0;
	if (p >= 1.0)
		return NETFAULT_PROB_ONE;
	scaled = p * 4294967296.0 + 0.5;
	return scaled >= (double)NETFAULT_PROB_ONE ? NETFAULT_PROB_ONE : (uint32_t)scaled;
}

int netfault_cidr_parse(const char *s, struct netfault_cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	memset(out, 0, sizeof(*out));
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6;
	else
		return -EINVAL;
	out->prefixlen = out->family == AF_INET ? 32 : 128;
	if (slash) {
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || len > out->prefixlen)
			return -EINVAL;
		out->prefixlen = len;
	}
	return 0;
}

int netfault_exempt_parse_ssh(const char *ssh_connection, struct netfault_exempt *out)
{
	char cip[INET6_ADDRSTRLEN], sip[INET6_ADDRSTRLEN];
	unsigned int cport, sport;
	int err;

	if (!ssh_connection)
		return -EINVAL;
	if (sscanf(ssh_connection, "%45s %u %45s %u", cip, &cport, sip, &sport) != 4 || !cport ||
	    cport > 65535 || !sport || sport > 65535)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	err = netfault_cidr_parse(cip, &out->remote);
	if (err)
		return err;
	out->proto = IPPROTO_TCP;
	out->local_port = sport;
	out->remote_port = cport;
	return 0;
}
