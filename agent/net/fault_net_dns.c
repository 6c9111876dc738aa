/*
 * network.dns: DNS queries the target sends to the resolvers (target cidrs and ports, 53 by
 * default) whose name matches one of the patterns, and whose type is selected, are answered
 * at once by the eBPF data path (bpf/netfault.bpf.c: NXDOMAIN, SERVFAIL or REFUSED, or NOERROR
 * with forged A/AAAA records for spoof, sent back to the asking socket; the resolver never sees
 * the query) or dropped, with a probability. IPv4 and IPv6 resolvers.
 * Queries over TCP are dropped. Everything else is the rule-based network types' machinery
 * (netif.h): one rule per port range, counters per rule in describe().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsname.h"
#include "exp.h"
#include "fault.h"
#include "netif.h"

/* The RCODE of each answering action (RFC 1035 4.1.1). */
static const uint8_t rcodes[] = {
	[DNS_ACTION_NXDOMAIN] = 3,
	[DNS_ACTION_SERVFAIL] = 2,
	[DNS_ACTION_REFUSED] = 5,
};

static int dns_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_net_dns *p = &f->spec->params.dns;

	/* The parser refuses it too; an agent never takes an action it does not perform. */
	if (p->action != DNS_ACTION_NXDOMAIN && p->action != DNS_ACTION_SERVFAIL &&
	    p->action != DNS_ACTION_REFUSED && p->action != DNS_ACTION_DROP &&
	    p->action != DNS_ACTION_SPOOF) {
		snprintf(err, size, "params.action: not supported by this agent");
		return -EINVAL;
	}
	return netif_fault_validate(a, f, err, size);
}

static int dns_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_net_dns *p = &f->spec->params.dns;
	struct netfault_rule_spec act = {
		.action = NETFAULT_ACT_DNS,
		.prob = netfault_prob(p->probability_ppm / 1e6),
		.dns_op = p->action == DNS_ACTION_DROP	  ? NETFAULT_DNS_DROP
			  : p->action == DNS_ACTION_SPOOF ? NETFAULT_DNS_SPOOF
							  : NETFAULT_DNS_ANSWER,
		.n_dns_names = p->n_names,
	};
	struct dnsname *names;
	int ret;

	(void)a;
	if (p->action == DNS_ACTION_SPOOF) {
		/* The parser checked the families and the counts; an agent checks again. */
		if (p->n_a > NETFAULT_DNS_SPOOF_MAX || p->n_aaaa > NETFAULT_DNS_SPOOF_MAX ||
		    p->ttl > NETFAULT_DNS_TTL_MAX) {
			snprintf(err, size,
				 "params: more spoof addresses or a longer ttl than "
				 "this agent answers with");
			return -EINVAL;
		}
		act.dns_spoof.ttl = p->ttl;
		for (size_t i = 0; i < p->n_a; i++) {
			if (p->a[i].family != AF_INET) {
				snprintf(err, size, "params.a[%zu]: not an IPv4 address", i);
				return -EINVAL;
			}
			memcpy(act.dns_spoof.a[act.dns_spoof.n_a++], p->a[i].addr, 4);
		}
		for (size_t i = 0; i < p->n_aaaa; i++) {
			if (p->aaaa[i].family != AF_INET6) {
				snprintf(err, size, "params.aaaa[%zu]: not an IPv6 address", i);
				return -EINVAL;
			}
			memcpy(act.dns_spoof.aaaa[act.dns_spoof.n_aaaa++], p->aaaa[i].addr, 16);
		}
	} else if (p->action != DNS_ACTION_DROP) {
		act.dns_rcode = rcodes[p->action];
	}
	for (size_t i = 0; i < p->n_qtypes && i < NETFAULT_DNS_QTYPES_MAX; i++)
		act.dns_qtypes[i] = dnsname_qtype_number(p->qtypes[i]);
	names = calloc(p->n_names ? p->n_names : 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_names; i++) {
		char why[300];

		if (dnsname_parse(p->names[i], &names[i], why, sizeof(why))) {
			snprintf(err, size, "params.names[%zu]: %s", i, why);
			free(names);
			return -EINVAL;
		}
	}
	act.dns_names = names;
	ret = netif_fault_apply_action(f, &act, err, size);
	free(names);
	if (ret == -EEXIST)
		snprintf(err, size,
			 "params.names: a name's 64-bit hash collides with another fault's name "
			 "on this interface; apply the faults on separate interfaces");
	return ret;
}

const struct fault_ops fault_net_dns = {
	NETIF_RULE_OPS("network.dns"),
	.validate = dns_validate,
	.apply = dns_apply,
	.target_container = netif_fault_target_container,
};
