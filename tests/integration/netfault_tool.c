/*
 * netfault_tool: drives agent/net/netfault.c from shell tests (test_netfault_traffic.sh) until the
 * agent's API exposes network faults.
 *
 *   netfault_tool [-t SECONDS] [-r RULE]... [-x EXEMPT]... IFNAME
 *	Attach to IFNAME (in the caller's network namespace), add the rules and exemptions, print
 *	"ready" and wait until stdin reaches EOF, SIGINT/SIGTERM, or SECONDS (default 120) pass.
 *	Then print one line per rule, "rule SLOT matched=N dropped=N corrupted=N duplicated=N
 *	exempted=N", detach and exit 0.
 *   netfault_tool -c IFNAME
 *	netfault_cleanup_leftover(IFNAME, NETFAULT_CLEANUP_QDISC); prints "removed N".
 * NETFAULT_TOOL_DEBUG set in the environment: debug logging, libbpf's verifier log included.
 *
 * RULE: comma-separated key=value: dir=in|out|both, action=loss|ge|corrupt|dup|partition,
 * prob=P, ge=P:R:1-H:1-K, proto=tcp|udp|icmp|icmpv6|NUMBER, remote=CIDR, local=CIDR (repeat
 * for more), lport=A[-B], rport=A[-B], fault_exempt. EXEMPT: PROTO:LPORT:REMOTE_CIDR:RPORT
 * (0 = any) or "ssh=CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT".
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "log.h"
#include "netfault.h"

#define MAX_CIDRS 64

struct rule_arg {
	struct netfault_rule_spec spec;
	struct netfault_cidr remote[MAX_CIDRS];
	struct netfault_cidr local[MAX_CIDRS];
	int slot;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int parse_range(const char *s, uint16_t *lo, uint16_t *hi)
{
	char *end;
	unsigned long a, b;

	errno = 0;
	a = strtoul(s, &end, 10);
	b = a;
	if (*end == '-')
		b = strtoul(end + 1, &end, 10);
	if (errno || *end || !b || a > b || b > 65535)
		return -EINVAL;
	*lo = a;
	*hi = b;
	return 0;
}

static int parse_proto(const char *s, uint8_t *out)
{
	char *end;
	unsigned long v;

	if (!strcmp(s, "tcp"))
		*out = IPPROTO_TCP;
	else if (!strcmp(s, "udp"))
		*out = IPPROTO_UDP;
	else if (!strcmp(s, "icmp"))
		*out = IPPROTO_ICMP;
	else if (!strcmp(s, "icmpv6"))
		*out = IPPROTO_ICMPV6;
	else if (!strcmp(s, "any"))
		*out = 0;
	else {
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || *end || v > 255)
			return -EINVAL;
		*out = v;
	}
	return 0;
}

static int parse_prob(const char *s, uint32_t *out)
{
	char *end;
	double p;

	errno = 0;
	p = strtod(s, &end);
	if (errno || end == s || *end || p < 0 || p > 1)
		return -EINVAL;
	*out = netfault_prob(p);
	return 0;
}

static int parse_rule(char *s, struct rule_arg *ra)
{
	struct netfault_rule_spec *sp = &ra->spec;
	char *save = NULL, *kv;

	memset(ra, 0, sizeof(*ra));
	sp->remote = ra->remote;
	sp->local = ra->local;
	for (kv = strtok_r(s, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		int err = 0;

		if (v)
			*v++ = '\0';
		if (!strcmp(kv, "fault_exempt")) {
			sp->fault_exempt = true;
			continue;
		}
		if (!v)
			return -EINVAL;
		if (!strcmp(kv, "dir")) {
			sp->dirs = !strcmp(v, "in")	? NETFAULT_DIR_INGRESS
				   : !strcmp(v, "out")	? NETFAULT_DIR_EGRESS
				   : !strcmp(v, "both") ? NETFAULT_DIR_BOTH
							: 0;
			err = sp->dirs ? 0 : -EINVAL;
		} else if (!strcmp(kv, "action")) {
			sp->action = !strcmp(v, "loss")	       ? NETFAULT_ACT_LOSS
				     : !strcmp(v, "ge")	       ? NETFAULT_ACT_LOSS_GE
				     : !strcmp(v, "corrupt")   ? NETFAULT_ACT_CORRUPT
				     : !strcmp(v, "dup")       ? NETFAULT_ACT_DUPLICATE
				     : !strcmp(v, "partition") ? NETFAULT_ACT_PARTITION
							       : 0;
			err = sp->action ? 0 : -EINVAL;
		} else if (!strcmp(kv, "prob")) {
			err = parse_prob(v, &sp->prob);
		} else if (!strcmp(kv, "ge")) {
			char *q[4], *save2 = NULL;
			uint32_t *dst[4] = {&sp->ge.p, &sp->ge.r, &sp->ge.loss_bad,
					    &sp->ge.loss_good};

			q[0] = strtok_r(v, ":", &save2);
			for (int i = 1; i < 4; i++)
				q[i] = q[i - 1] ? strtok_r(NULL, ":", &save2) : NULL;
			for (int i = 0; i < 4 && !err; i++)
				err = q[i] ? parse_prob(q[i], dst[i]) : -EINVAL;
		} else if (!strcmp(kv, "proto")) {
			err = parse_proto(v, &sp->proto);
		} else if (!strcmp(kv, "remote") || !strcmp(kv, "local")) {
			bool remote = kv[0] == 'r';
			size_t *n = remote ? &sp->n_remote : &sp->n_local;
			struct netfault_cidr *arr = remote ? ra->remote : ra->local;

			if (*n == MAX_CIDRS)
				return -E2BIG;
			err = netfault_cidr_parse(v, &arr[(*n)++]);
		} else if (!strcmp(kv, "lport")) {
			err = parse_range(v, &sp->lport_min, &sp->lport_max);
		} else if (!strcmp(kv, "rport")) {
			err = parse_range(v, &sp->rport_min, &sp->rport_max);
		} else {
			err = -EINVAL;
		}
		if (err)
			return err;
	}
	return 0;
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 65535)
		return -EINVAL;
	*out = v;
	return 0;
}

/* PROTO:LPORT:REMOTE_CIDR:RPORT; the CIDR may hold ':' itself (IPv6), so RPORT is last. */
static int parse_exempt(char *s, struct netfault_exempt *ex)
{
	char *lport, *cidr, *rport;
	int err;

	if (!strncmp(s, "ssh=", 4))
		return netfault_exempt_parse_ssh(s + 4, ex);
	memset(ex, 0, sizeof(*ex));
	lport = strchr(s, ':');
	if (!lport)
		return -EINVAL;
	*lport++ = '\0';
	cidr = strchr(lport, ':');
	if (!cidr)
		return -EINVAL;
	*cidr++ = '\0';
	rport = strrchr(cidr, ':');
	if (!rport)
		return -EINVAL;
	*rport++ = '\0';
	err = parse_proto(s, &ex->proto);
	if (!err)
		err = parse_port(lport, &ex->local_port);
	if (!err)
		err = parse_port(rport, &ex->remote_port);
	if (err)
		return err;
	if (strcmp(cidr, "any"))
		return netfault_cidr_parse(cidr, &ex->remote);
	ex->remote.family = AF_UNSPEC;
	return 0;
}

/*
 * libbpf reports the kernel's answer to every probe that is expected to fail (EEXIST from
 * creating clsact, ENOENT from querying a filter): debug level, as in faultlined.
 */
static __attribute__((format(printf, 2, 0))) int libbpf_print(enum libbpf_print_level level,
							      const char *fmt, va_list ap)
{
	log_vmsg(LOG_LVL_DEBUG, fmt, ap);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: netfault_tool [-t SECONDS] [-r RULE]... [-x EXEMPT]... IFNAME\n"
			"       netfault_tool -c IFNAME\n");
}

int main(int argc, char **argv)
{
	struct rule_arg *rules = NULL;
	struct netfault_exempt *exempts = NULL;
	int n_rules = 0, n_ex = 0, timeout_s = 120, opt, err, ifindex, rc = 1;
	bool cleanup = false;
	struct netfault *nf = NULL;
	struct sigaction sa = {.sa_handler = on_signal};
	time_t deadline;

	log_setup("netfault_tool", getenv("NETFAULT_TOOL_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_WARN,
		  LOG_STYLE_HUMAN);
	libbpf_set_print(libbpf_print);
	rules = calloc(argc, sizeof(*rules));
	exempts = calloc(argc, sizeof(*exempts));
	if (!rules || !exempts)
		goto out;
	while ((opt = getopt(argc, argv, "t:r:x:c")) != -1) {
		switch (opt) {
		case 't':
			timeout_s = atoi(optarg);
			break;
		case 'r':
			err = parse_rule(optarg, &rules[n_rules]);
			if (err) {
				fprintf(stderr, "netfault_tool: bad rule: %s\n", strerror(-err));
				goto out;
			}
			n_rules++;
			break;
		case 'x':
			err = parse_exempt(optarg, &exempts[n_ex]);
			if (err) {
				fprintf(stderr, "netfault_tool: bad exemption: %s\n",
					strerror(-err));
				goto out;
			}
			n_ex++;
			break;
		case 'c':
			cleanup = true;
			break;
		default:
			usage();
			goto out;
		}
	}
	if (optind != argc - 1) {
		usage();
		goto out;
	}
	ifindex = if_nametoindex(argv[optind]);
	if (!ifindex) {
		fprintf(stderr, "netfault_tool: %s: %s\n", argv[optind], strerror(errno));
		goto out;
	}
	if (cleanup) {
		int removed;

		err = netfault_cleanup_leftover(ifindex, NETFAULT_CLEANUP_QDISC, &removed);
		if (!err)
			printf("removed %d\n", removed);
		rc = err ? 1 : 0;
		goto out;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	err = netfault_open(ifindex, &nf);
	if (!err)
		err = netfault_attach(nf);
	for (int i = 0; i < n_ex && !err; i++)
		err = netfault_exempt_add(nf, &exempts[i]);
	for (int i = 0; i < n_rules && !err; i++)
		err = netfault_rule_add(nf, &rules[i].spec, &rules[i].slot);
	if (err) {
		fprintf(stderr, "netfault_tool: %s\n", strerror(-err));
		goto out;
	}
	printf("ready\n");
	fflush(stdout);
	deadline = time(NULL) + timeout_s;
	while (!stop && time(NULL) < deadline) {
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
		char buf[256];

		if (poll(&p, 1, 200) > 0 && read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
			break;
	}
	for (int i = 0; i < n_rules; i++) {
		struct netfault_counters c;

		err = netfault_rule_counters(nf, rules[i].slot, &c);
		if (err) {
			fprintf(stderr, "netfault_tool: counters: %s\n", strerror(-err));
			goto out;
		}
		printf("rule %d matched=%llu dropped=%llu corrupted=%llu duplicated=%llu "
		       "exempted=%llu\n",
		       rules[i].slot, (unsigned long long)c.matched, (unsigned long long)c.dropped,
		       (unsigned long long)c.corrupted, (unsigned long long)c.duplicated,
		       (unsigned long long)c.exempted);
	}
	fflush(stdout);
	err = netfault_detach(nf);
	rc = err ? 1 : 0;
out:
	netfault_close(nf);
	free(rules);
	free(exempts);
	return rc;
}
