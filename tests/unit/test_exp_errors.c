/*
 * Experiment validation: every class of problem, with the exact message and position
 * (file:line:column: field.path: message) a user sees from `faultctl validate`.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "diag.h"
#include "exp.h"
#include "helpers.h"

/* Lines 1-8 of every document below; faults start on line 9. */
#define HEAD                                                \
	"version: 1\n"                                      \
	"name: t\n"                                         \
	"hypothesis: h\n"                                   \
	"agents:\n"                                         \
	"  - {name: a1, address: \"unix:///run/a.sock\"}\n" \
	"  - {name: a2, address: \"ssh://192.0.2.2\"}\n"    \
	"duration: 10m\n"                                   \
	"faults:\n"

/* A valid fault, for documents whose problem is elsewhere. */
#define OK_FAULT                 \
	"  - name: ok\n"         \
	"    type: stress.cpu\n" \
	"    duration: 1m\n"

TH_LOADER(load, struct experiment, exp_load_buf, exp_free)

/* Load doc and compare everything printed with want. */
static void expect(const char *doc, const char *want)
{
	th_expect_problems(load, "t.yaml", doc, want);
}

static void expect_valid(const char *doc)
{
	struct experiment *e = NULL;
	struct diag_list dl;

	assert_int_equal(diag_init(&dl, "t.yaml"), 0);
	th_assert_clean(exp_load_buf(doc, strlen(doc), &e, &dl), &dl);
	assert_non_null(e);
	exp_free(e);
}

static void test_valid_minimal(void **state)
{
	expect_valid(HEAD OK_FAULT);
}

/* HEAD and n faults named f0, f1, ... (stressors: no target), in a string to free(). */
static char *doc_with_faults(size_t n)
{
	size_t size = strlen(HEAD) + n * 64 + 1, len;
	char *doc = malloc(size);

	assert_non_null(doc);
	len = (size_t)snprintf(doc, size, "%s", HEAD);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(doc + len, size - len,
					"  - {name: f%zu, type: stress.cpu, duration: 1m}\n", i);
	return doc;
}

/* A fault per agent of the largest fleet (1,024 agents) is allowed; one more is not. */
static void test_faults_limit(void **state)
{
	struct experiment *e = NULL;
	struct diag_list dl;
	char *doc = doc_with_faults(1024), *got;

	expect_valid(doc);
	free(doc);
	doc = doc_with_faults(1025);
	assert_int_equal(diag_init(&dl, "t.yaml"), 0);
	assert_int_not_equal(exp_load_buf(doc, strlen(doc), &e, &dl), 0);
	assert_null(e);
	got = th_render(&dl);
	assert_non_null(
		strstr(got, "t.yaml:9:3: faults: has 1025 items; at most 1024 are allowed"));
	free(got);
	diag_clear(&dl);
	free(doc);
}

static void test_unknown_keys(void **state)
{
	expect(HEAD "  - name: f1\n"
		    "    type: network.latency\n"
		    "    duration: 1m\n"
		    "    target: {interfce: eth0, cidrs: [192.0.2.0/24]}\n"
		    "    params: {delay: 10ms}\n",
	       "t.yaml:12:13: faults[0].target.interface: missing required field (it may be left "
	       "out only "
	       "with netns or container, where it defaults to the interface of that namespace's "
	       "default "
	       "route)\n"
	       "t.yaml:12:14: faults[0].target.interfce: unknown key; did you mean 'interface'?\n");
	expect(HEAD OK_FAULT "colour: red\n",
	       "t.yaml:12:1: colour: unknown key (valid keys: version, name, description, "
	       "hypothesis, inventory, agents, duration, safety, steady_state, guardrails, "
	       "faults)\n");
	expect(HEAD OK_FAULT "safety:\n  leas_ttl: 3s\n",
	       "t.yaml:13:3: safety.leas_ttl: unknown key; did you mean 'lease_ttl'?\n");
	expect(HEAD OK_FAULT "guardrails:\n"
			     "  - name: g\n"
			     "    http: {url: \"http://127.0.0.1/\", min_sucess_ratio: 99%}\n",
	       "t.yaml:14:11: guardrails[0].http: needs a condition: min_success_ratio, "
	       "max_latency, or both, to say when the probe is healthy\n"
	       "t.yaml:14:38: guardrails[0].http.min_sucess_ratio: unknown key; did you mean "
	       "'min_success_ratio'?\n");
	/* Values get the same help as keys. */
	expect(HEAD "  - name: f1\n"
		    "    type: network.latncy\n"
		    "    duration: 1m\n",
	       "t.yaml:10:11: faults[0].type: unknown fault type 'network.latncy'; did you mean "
	       "'network.latency'?\n");
	expect(HEAD "  - name: f1\n"
		    "    type: network.partition\n"
		    "    duration: 1m\n"
		    "    target: {interface: eth0, direction: egres, cidrs: [\"::/0\"]}\n",
	       "t.yaml:12:42: faults[0].target.direction: invalid value 'egres'; did you mean "
	       "'egress'?\n");
	expect(HEAD "  - name: f1\n"
		    "    type: network.partition\n"
		    "    duration: 1m\n"
		    "    target: {interface: eth0, protocol: quic, cidrs: [\"::/0\"]}\n",
	       "t.yaml:12:41: faults[0].target.protocol: invalid value 'quic'; expected one of: "
	       "any, tcp, udp, icmp\n");
}

static void test_wrong_types(void **state)
{
	expect(HEAD OK_FAULT "description: [a, b]\n",
	       "t.yaml:12:14: description: expected a string, got a list\n");
	expect("version: 1\nname: 42\nhypothesis: h\nagents: [{name: a}]\nduration: 1m\n"
	       "inventory: inv.yaml\nfaults:\n" OK_FAULT,
	       "t.yaml:2:7: name: expected a string, got an integer; put it in quotes to make "
	       "it text\n");
	expect(HEAD OK_FAULT "safety: {dry_run: yes}\n",
	       "t.yaml:12:19: safety.dry_run: expected true or false, got a string\n");
	expect(HEAD OK_FAULT "safety: {lease_ttl: 5}\n",
	       "t.yaml:12:21: safety.lease_ttl: expected a duration such as '30s', got an "
	       "integer\n");
	expect(HEAD "  - name: f1\n"
		    "    type: stress.fds\n"
		    "    duration: 1m\n"
		    "    params: {count: \"100\"}\n",
	       "t.yaml:12:21: faults[0].params.count: expected an integer, got a string\n");
	expect(HEAD "  - name: f1\n"
		    "    type: stress.fds\n"
		    "    duration: 1m\n"
		    "    params: [count, 100]\n",
	       "t.yaml:12:13: faults[0].params: expected a mapping, got a list\n");
	expect("- 1\n", "t.yaml:1:1: expected a mapping, got a list\n");
	expect(HEAD "  oops\n", "t.yaml:9:3: faults: expected a list, got a string\n");
}

static void test_missing_fields(void **state)
{
	expect("version: 1\n", "t.yaml:1:1: agents: missing required field\n"
			       "t.yaml:1:1: duration: missing required field\n"
			       "t.yaml:1:1: faults: missing required field\n"
			       "t.yaml:1:1: hypothesis: missing required field\n"
			       "t.yaml:1:1: name: missing required field\n");
	expect(HEAD "  - name: f1\n"
		    "    duration: 1m\n",
	       "t.yaml:9:5: faults[0].type: missing required field\n");
	expect(HEAD "  - name: f1\n"
		    "    type: network.latency\n",
	       "t.yaml:9:5: faults[0].duration: missing required field\n"
	       "t.yaml:9:5: faults[0].params: missing required field\n"
	       "t.yaml:9:5: faults[0].target: missing required field\n");
	expect(HEAD "  - name: f1\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
		    "    params: {model: gilbert-elliott, p: 1%}\n",
	       "t.yaml:13:13: faults[0].params.r: missing required field\n");
	expect(HEAD OK_FAULT "guardrails:\n  - name: g\n    for: 10s\n",
	       "t.yaml:13:5: guardrails[0]: needs a probe: one of http, prometheus, command or "
	       "burn_rate\n");
}

static void test_out_of_range(void **state)
{
	expect(HEAD "  - name: lossy\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
		    "    params: {probability: 150%}\n",
	       "t.yaml:13:27: faults[0].params.probability: 150% is out of range (more than 0%, at "
	       "most 100%)\n");
	/* The message states what is accepted: 0% is refused like 150%, the bounds are not. */
	expect(HEAD "  - name: lossy\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
		    "    params: {probability: 0%}\n",
	       "t.yaml:13:27: faults[0].params.probability: 0% is out of range (more than 0%, at "
	       "most 100%)\n");
	expect(HEAD "  - name: lossy\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
		    "    params: {probability: 100.0001%}\n",
	       "t.yaml:13:27: faults[0].params.probability: 100.0001% is out of range (more than "
	       "0%, at most 100%)\n");
	expect_valid(HEAD "  - name: lossy\n"
			  "    type: network.loss\n"
			  "    duration: 1m\n"
			  "    target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
			  "    params: {probability: 0.0001%}\n");
	expect_valid(HEAD "  - name: lossy\n"
			  "    type: network.loss\n"
			  "    duration: 1m\n"
			  "    target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
			  "    params: {probability: 100%}\n");
	/* A rate field's unit hint lists rate units. */
	expect(HEAD "  - name: slow\n"
		    "    type: network.bandwidth\n"
		    "    duration: 1m\n"
		    "    target: {interface: eth0, direction: egress, cidrs: [192.0.2.0/24]}\n"
		    "    params: {rate: 10megabit}\n",
	       "t.yaml:13:20: faults[0].params.rate: rate '10megabit' has unknown unit 'megabit' "
	       "(use bit, kbit, mbit, gbit or tbit, or a byte unit followed by '/s': B/s, kB/s, "
	       "MB/s, GB/s, TB/s, PB/s, KiB/s, MiB/s, GiB/s, TiB/s or PiB/s)\n");
	expect(HEAD "  - name: early\n"
		    "    type: stress.cpu\n"
		    "    start: -5s\n"
		    "    duration: 1m\n",
	       "t.yaml:11:12: faults[0].start: duration '-5s' is negative\n");
	expect(HEAD "  - name: slow\n"
		    "    type: network.latency\n"
		    "    duration: 1m\n"
		    "    target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
		    "    params: {delay: 2h}\n",
	       "t.yaml:13:21: faults[0].params.delay: 2h is out of range (1us to 1h)\n");
	expect(HEAD "  - name: idle\n"
		    "    type: stress.cpu\n"
		    "    duration: 1m\n"
		    "    params: {workers: 0, load: 0.5%}\n",
	       "t.yaml:12:23: faults[0].params.workers: 0 is out of range (1 to 4096)\n"
	       "t.yaml:12:32: faults[0].params.load: 0.5% is out of range (1% to 100%)\n");
	expect(HEAD OK_FAULT "safety: {lease_ttl: 10m}\n",
	       "t.yaml:12:21: safety.lease_ttl: 10m is out of range (1s to 5m)\n");
	expect(HEAD "  - name: big\n"
		    "    type: stress.memory\n"
		    "    duration: 1m\n"
		    "    params: {size: 101%}\n",
	       "t.yaml:12:20: faults[0].params.size: 101% is out of range (more than 0%, at most "
	       "100%)\n");
	expect(HEAD "  - name: k\n"
		    "    type: process.kill\n"
		    "    target: {pid: 99999999, count: 1}\n"
		    "    params: {signal: 65}\n",
	       "t.yaml:11:19: faults[0].target.pid: 99999999 is out of range (1 to 4194304)\n"
	       "t.yaml:12:22: faults[0].params.signal: signal 65 is out of range (1 to 64)\n");
	expect(HEAD "  - name: k\n"
		    "    type: process.kill\n"
		    "    target: {pid: 42, count: 1}\n"
		    "    params: {signal: STOP}\n",
	       "t.yaml:12:22: faults[0].params.signal: SIGSTOP stops the process and a kill is "
	       "never reverted; use process.pause, which resumes it\n");
}

static void test_timing(void **state)
{
	expect(HEAD "  - name: late\n"
		    "    type: stress.cpu\n"
		    "    start: 8m\n"
		    "    duration: 5m\n",
	       "t.yaml:12:15: faults[0].duration: fault ends at t+13m, after the experiment ends "
	       "at t+10m\n");
	expect(HEAD "  - name: never\n"
		    "    type: process.kill\n"
		    "    start: 10m\n"
		    "    target: {name: nginx, count: 1}\n",
	       "t.yaml:11:12: faults[0].start: fault starts at t+10m, when the experiment is "
	       "over (it ends at t+10m)\n");
	expect(HEAD "  - name: k\n"
		    "    type: process.kill\n"
		    "    duration: 1m\n"
		    "    target: {name: nginx, count: 1}\n",
	       "t.yaml:11:15: faults[0].duration: a process.kill without interval signals once; "
	       "remove the duration or set params.interval\n");
	expect(HEAD "  - name: k\n"
		    "    type: process.kill\n"
		    "    duration: 1m\n"
		    "    target: {name: nginx, count: 1}\n"
		    "    params: {interval: 2m}\n",
	       "t.yaml:13:24: faults[0].params.interval: interval 2m is longer than the fault's "
	       "duration 1m\n");
	expect(HEAD OK_FAULT "safety: {max_duration: 5m}\n",
	       "t.yaml:7:11: duration: the experiment runs 10m, longer than "
	       "safety.max_duration 5m\n");
	expect(HEAD OK_FAULT "guardrails:\n"
			     "  - name: g\n"
			     "    for: 10m\n"
			     "    command: {argv: [/bin/true]}\n",
	       "t.yaml:14:10: guardrails[0].for: for: 10m is not shorter than the experiment "
	       "(10m), so this guardrail could never fire\n");
}

static void test_conflicts(void **state)
{
	expect(HEAD
	       "  - name: lat-a\n"
	       "    type: network.latency\n"
	       "    start: 1m\n"
	       "    duration: 2m\n"
	       "    target: {interface: eth0, cidrs: [198.51.100.0/24], ports: [\"8000-8100\"]}\n"
	       "    params: {delay: 10ms}\n"
	       "  - name: lat-b\n"
	       "    type: network.latency\n"
	       "    start: 2m\n"
	       "    duration: 2m\n"
	       "    target: {interface: eth0, direction: both, cidrs: [198.51.100.128/25],\n"
	       "             ports: [8080]}\n"
	       "    params: {delay: 20ms}\n",
	       "t.yaml:15:5: faults[1]: conflicts with fault 'lat-a' (faults[0]): both add "
	       "latency on eth0 egress for overlapping addresses and ports from t+2m to t+3m\n");
	expect(HEAD "  - name: bw-a\n"
		    "    type: network.bandwidth\n"
		    "    duration: 5m\n"
		    "    target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
		    "    params: {rate: 10mbit}\n"
		    "  - name: bw-b\n"
		    "    type: network.bandwidth\n"
		    "    agents: [a2]\n"
		    "    start: 4m\n"
		    "    duration: 5m\n"
		    "    target: {interface: eth0, cidrs: [\"2001:db8::/32\"]}\n"
		    "    params: {rate: 1gbit}\n",
	       "t.yaml:14:5: faults[1]: conflicts with fault 'bw-a' (faults[0]): both limit "
	       "bandwidth on eth0 egress from t+4m to t+5m\n");
	/* Disjoint agents, addresses, ports or times combine fine. */
	expect_valid(HEAD "  - name: lat-a\n"
			  "    type: network.latency\n"
			  "    agents: [a1]\n"
			  "    duration: 5m\n"
			  "    target: {interface: eth0, cidrs: [192.0.2.0/24], ports: [80]}\n"
			  "    params: {delay: 10ms}\n"
			  "  - name: lat-b\n"
			  "    type: network.latency\n"
			  "    agents: [a2]\n"
			  "    duration: 5m\n"
			  "    target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
			  "    params: {delay: 10ms}\n"
			  "  - name: lat-c\n"
			  "    type: network.latency\n"
			  "    agents: [a1]\n"
			  "    duration: 5m\n"
			  "    target: {interface: eth0, cidrs: [198.51.100.0/24]}\n"
			  "    params: {delay: 10ms}\n"
			  "  - name: lat-d\n"
			  "    type: network.latency\n"
			  "    agents: [a1]\n"
			  "    duration: 5m\n"
			  "    target: {interface: eth0, cidrs: [192.0.2.0/24], ports: [443]}\n"
			  "    params: {delay: 10ms}\n"
			  "  - name: lat-e\n"
			  "    type: network.latency\n"
			  "    agents: [a1]\n"
			  "    start: 5m\n"
			  "    duration: 5m\n"
			  "    target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
			  "    params: {delay: 10ms}\n"
			  "  - name: part\n"
			  "    type: network.partition\n"
			  "    duration: 5m\n"
			  "    target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
			  "  - name: part2\n"
			  "    type: network.partition\n"
			  "    duration: 5m\n"
			  "    target: {interface: eth0, cidrs: [192.0.2.0/24]}\n");
	expect(HEAD "  - name: p1\n"
		    "    type: process.pause\n"
		    "    duration: 5m\n"
		    "    target: {name: redis-server, all: true}\n"
		    "  - name: p2\n"
		    "    type: process.pause\n"
		    "    duration: 5m\n"
		    "    target: {name: redis-server, count: 1}\n",
	       "t.yaml:13:5: faults[1]: conflicts with fault 'p1' (faults[0]): both pause the "
	       "same processes (identical selectors) from t+0s to t+5m\n");
	/* The freezer takes a whole cgroup: a narrower-looking target is refused. */
	expect(HEAD "  - name: fz\n"
		    "    type: process.pause\n"
		    "    duration: 5m\n"
		    "    target: {cgroup: /app, name: redis-server, count: 1}\n"
		    "    params: {method: freezer}\n",
	       "t.yaml:12:34: faults[0].target.name: method freezer freezes the whole cgroup: "
	       "the target takes only cgroup or container, and all: true ('name' would not "
	       "narrow it; use method sigstop to pick processes)\n"
	       "t.yaml:12:55: faults[0].target.count: method freezer freezes the whole cgroup: "
	       "the target takes only cgroup or container, and all: true ('count' would not "
	       "narrow it; use method sigstop to pick processes)\n");
	expect(HEAD "  - name: fz\n"
		    "    type: process.pause\n"
		    "    duration: 5m\n"
		    "    target: {name: redis-server, all: true}\n"
		    "    params: {method: freezer}\n",
	       "t.yaml:12:13: faults[0].target: method freezer freezes a whole cgroup: it needs "
	       "target.cgroup or target.container\n"
	       "t.yaml:12:20: faults[0].target.name: method freezer freezes the whole cgroup: "
	       "the target takes only cgroup or container, and all: true ('name' would not "
	       "narrow it; use method sigstop to pick processes)\n");
}

/* An IPv4-mapped IPv6 CIDR matches no packet: refused with its IPv4 form. */
static void test_ipv4_mapped_cidrs(void **state)
{
	expect(HEAD "  - name: f1\n"
		    "    type: network.partition\n"
		    "    duration: 1m\n"
		    "    target:\n"
		    "      interface: eth0\n"
		    "      cidrs: [\"::ffff:10.250.1.2/128\", \"::FFFF:10.250.1.0/120\",\n"
		    "              \"::ffff:a00:1\", \"::ffff:0.0.0.0/96\"]\n",
	       "t.yaml:14:15: faults[0].target.cidrs[0]: CIDR '::ffff:10.250.1.2/128' is an "
	       "IPv4-mapped IPv6 address, which no IPv4 packet carries; write it as IPv4: "
	       "'10.250.1.2/32'\n"
	       "t.yaml:14:40: faults[0].target.cidrs[1]: CIDR '::FFFF:10.250.1.0/120' is an "
	       "IPv4-mapped IPv6 address, which no IPv4 packet carries; write it as IPv4: "
	       "'10.250.1.0/24'\n"
	       "t.yaml:15:15: faults[0].target.cidrs[2]: CIDR '::ffff:a00:1' is an IPv4-mapped "
	       "IPv6 address, which no IPv4 packet carries; write it as IPv4: '10.0.0.1/32'\n"
	       "t.yaml:15:31: faults[0].target.cidrs[3]: CIDR '::ffff:0.0.0.0/96' is an "
	       "IPv4-mapped IPv6 address, which no IPv4 packet carries; write it as IPv4: "
	       "'0.0.0.0/0'\n");
	/* Real IPv6 ranges, and the IPv6 range around the mapped one, stay valid. */
	expect_valid(HEAD "  - name: f1\n"
			  "    type: network.partition\n"
			  "    duration: 1m\n"
			  "    target: {interface: eth0, cidrs: [\"2001:db8::/32\", \"::/0\", "
			  "\"::fffe:a00:1/128\"]}\n");
}

/* A target of n peer-port ranges (ports 1001, 1003, ...) on eth0, as YAML flow text. */
static char *ports_fault(const char *type, const char *extra, unsigned n, const char *params)
{
	char *doc = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&doc, &len);

	assert_non_null(f);
	fprintf(f,
		HEAD "  - name: f1\n    type: %s\n    duration: 1m\n"
		     "    target: {interface: eth0, cidrs: [192.0.2.0/24, \"2001:db8::/32\"]%s, "
		     "ports: [",
		type, extra);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s%u", i ? ", " : "", 1001 + 2 * i);
	fprintf(f, "]}\n    params: %s\n", params);
	fclose(f);
	return doc;
}

/*
 * The rule slots of an interface (NETFAULT_MAX_RULES, 64), counted as the agent counts them:
 * validate refuses what the agent would refuse at apply time, and passes what it accepts.
 */
static void test_rule_slots(void **state)
{
	struct diag_list dl;
	const char *req;
	char *doc;

	/* At the limit and one range over it; bandwidth over both directions takes its rules
	 * once per direction.
	 */
	static const struct {
		const char *type, *extra, *params;
		unsigned ports;
		const char *want; /* NULL: valid */
	} limits[] = {
		{"network.loss", "", "{probability: 5%}", 66,
		 "t.yaml:12:13: faults[0].target: needs 66 rule slots (66 peer-port ranges x 1 "
		 "local-port range); an interface has 64\n"},
		{"network.loss", "", "{probability: 5%}", 64, NULL},
		{"network.bandwidth", ", direction: both", "{rate: 10mbit}", 33,
		 "t.yaml:12:13: faults[0].target: needs 66 rule slots (33 peer-port ranges x 1 "
		 "local-port range x 2 directions); an interface has 64\n"},
		{"network.bandwidth", ", direction: both", "{rate: 10mbit}", 32, NULL},
	};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		doc = ports_fault(limits[i].type, limits[i].extra, limits[i].ports,
				  limits[i].params);
		if (limits[i].want)
			expect(doc, limits[i].want);
		else
			expect_valid(doc);
		free(doc);
	}
	/* Peer ports x local ports. */
	expect(HEAD
	       "  - name: f1\n"
	       "    type: network.partition\n"
	       "    duration: 1m\n"
	       "    target: {interface: eth0, cidrs: [192.0.2.0/24], ports: [1, 2, 3, 4, 5, 6, "
	       "7, 8, 9], local_ports: [11, 12, 13, 14, 15, 16, 17, 18]}\n",
	       "t.yaml:12:13: faults[0].target: needs 72 rule slots (9 peer-port ranges x 8 "
	       "local-port ranges); an interface has 64\n");
	/*
	 * Faults at the same time on the same interface share its slots; one after the other,
	 * or on another interface, each fits. Three faults of 40 ports: f0 on eth0 from 0s,
	 * f1 on eth0 from start, f2 on eth1 from 0s, all for 1m.
	 */
	{
		static const struct {
			const char *start; /* of f1 */
			const char *want;  /* NULL: valid */
		} cases[] = {
			{"30s", "t.yaml:19:13: faults[1].target: together with 1 other fault on "
				"interface 'eth0' at t+30s, needs 80 rule slots; an interface has "
				"64\n"},
			{"1m", NULL},
		};
		char ports[256] = "";
		size_t o = 0;

		for (unsigned i = 0; i < 40; i++)
			o += (size_t)snprintf(ports + o, sizeof(ports) - o, "%s%u", i ? ", " : "",
					      2001 + i);
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			size_t len = 0;
			FILE *f;

			doc = NULL;
			f = open_memstream(&doc, &len);

			assert_non_null(f);
			fprintf(f, HEAD);
			for (int i = 0; i < 3; i++)
				fprintf(f,
					"  - name: f%d\n    type: network.%s\n    start: %s\n"
					"    duration: 1m\n"
					"    target: {interface: %s, cidrs: [192.0.2.0/24], ports: "
					"[%s]}\n"
					"    params: {probability: 5%%}\n",
					i, i == 1 ? "corruption" : "loss",
					i == 1 ? cases[c].start : "0s", i == 2 ? "eth1" : "eth0",
					ports);
			fclose(f);
			if (cases[c].want)
				expect(doc, cases[c].want);
			else
				expect_valid(doc);
			free(doc);
		}
	}
	/* The same count for a fault as the agent's API receives it. */
	req = "{\"name\": \"f\", \"type\": \"network.latency\", \"duration\": \"1m\", "
	      "\"target\": {\"interface\": \"eth0\", \"direction\": \"both\", \"cidrs\": "
	      "[\"192.0.2.0/24\"], \"ports\": [1, 2, 3, 4, 5, 6, 7, 8, 9], \"local_ports\": [1, 2, "
	      "3, 4]}, \"params\": {\"delay\": \"10ms\"}}";
	{
		struct fault_spec *spec = NULL;
		char why[256];

		assert_int_equal(diag_init(&dl, "request"), 0);
		assert_int_equal(exp_fault_parse(req, strlen(req), &spec, &dl), -EINVAL);
		assert_null(spec);
		assert_int_equal(dl.count, 1);
		assert_string_equal(dl.items[0].message,
				    "needs 72 rule slots (9 peer-port ranges x 4 local-port ranges "
				    "x 2 directions); an interface has 64");
		diag_clear(&dl);
		/* Under the limit, the count is what the agent reserves. */
		req = "{\"name\": \"f\", \"type\": \"network.loss\", \"duration\": \"1m\", "
		      "\"target\": {\"interface\": \"eth0\", \"protocol\": \"icmp\", \"cidrs\": "
		      "[\"192.0.2.0/24\", \"2001:db8::/32\"]}, \"params\": {\"probability\": "
		      "\"5%\"}}";
		assert_int_equal(diag_init(&dl, "request"), 0);
		assert_int_equal(exp_fault_parse(req, strlen(req), &spec, &dl), 0);
		assert_int_equal(exp_fault_rule_slots(spec), 2);
		assert_int_equal(exp_fault_rule_slots_check(spec, why, sizeof(why)), 0);
		exp_fault_free(spec);
		diag_clear(&dl);
	}
}

static void test_malformed_values(void **state)
{
	expect(HEAD "  - name: f1\n"
		    "    type: network.partition\n"
		    "    duration: 1m\n"
		    "    target:\n"
		    "      interface: eth0\n"
		    "      cidrs: [198.51.100.7/24, 300.1.2.3, \"2001:db8::/129\", 10.0.0.0/8x]\n"
		    "      ports: [70000, \"8100-8000\", http, 0]\n",
	       "t.yaml:14:15: faults[0].target.cidrs[0]: CIDR '198.51.100.7/24' has host bits "
	       "set; did you mean '198.51.100.0/24'?\n"
	       "t.yaml:14:32: faults[0].target.cidrs[1]: invalid CIDR '300.1.2.3': not an IPv4 "
	       "or IPv6 address\n"
	       "t.yaml:14:43: faults[0].target.cidrs[2]: invalid CIDR '2001:db8::/129': the "
	       "prefix length must be 0 to 128\n"
	       "t.yaml:14:61: faults[0].target.cidrs[3]: invalid CIDR '10.0.0.0/8x': the prefix "
	       "length must be 0 to 32\n"
	       "t.yaml:15:15: faults[0].target.ports[0]: port 70000 is out of range (1 to "
	       "65535)\n"
	       "t.yaml:15:22: faults[0].target.ports[1]: invalid port range '8100-8000': 8100 "
	       "is greater than 8000\n"
	       "t.yaml:15:35: faults[0].target.ports[2]: invalid port range 'http': expected N "
	       "or N-M\n"
	       "t.yaml:15:41: faults[0].target.ports[3]: port 0 is out of range (1 to 65535)\n");
	expect(HEAD "  - name: k\n"
		    "    type: process.kill\n"
		    "    target: {cmdline: \"worker(\", count: 1}\n",
	       "t.yaml:11:23: faults[0].target.cmdline: invalid regular expression 'worker(': "
	       "Unmatched ( or \\(\n");
	expect(HEAD "  - name: k\n"
		    "    type: process.kill\n"
		    "    target: {cmdline: \"((a{100}){100})\", count: 1}\n",
	       "t.yaml:11:23: faults[0].target.cmdline: regular expression '((a{100}){100})' is "
	       "too complex (its repetitions expand to more than 4096 elements)\n");
	/*
	 * What a repetition copies is at least one node: an unmatched ')' (a literal in glibc's
	 * ERE) and an empty group too (found by fuzz_exp_load: regcomp() took 2 GB on them).
	 */
	expect(HEAD "  - name: k\n"
		    "    type: process.kill\n"
		    "    target: {cmdline: \"))++++++++++++++\", count: 1}\n"
		    "  - name: k2\n"
		    "    type: process.kill\n"
		    "    target: {cmdline: \"x()++++++++++++++\", count: 1}\n"
		    "  - name: k3\n"
		    "    type: process.kill\n"
		    "    target: {cmdline: \"(|)++++++++++++++\", count: 1}\n",
	       "t.yaml:11:23: faults[0].target.cmdline: regular expression '))++++++++++++++' is "
	       "too complex (its repetitions expand to more than 4096 elements)\n"
	       "t.yaml:14:23: faults[1].target.cmdline: regular expression 'x()++++++++++++++' is "
	       "too complex (its repetitions expand to more than 4096 elements)\n"
	       "t.yaml:17:23: faults[2].target.cmdline: regular expression '(|)++++++++++++++' is "
	       "too complex (its repetitions expand to more than 4096 elements)\n");
	/* A pattern matching the empty string matches every process on the host. */
	expect(HEAD "  - name: k\n"
		    "    type: process.kill\n"
		    "    target: {cmdline: \".*\", all: true}\n"
		    "  - name: k2\n"
		    "    type: process.pause\n"
		    "    duration: 10s\n"
		    "    target: {cmdline: \"worker|\", count: 1}\n",
	       "t.yaml:11:23: faults[0].target.cmdline: regular expression '.*' matches the empty "
	       "string, so it matches every process; name what the command line must contain\n"
	       "t.yaml:15:23: faults[1].target.cmdline: regular expression 'worker|' matches the "
	       "empty string, so it matches every process; name what the command line must "
	       "contain\n");
	/* glibc copies "x+" as "xx*": thirteen '+' are 8192 copies. */
	expect(HEAD "  - name: k\n"
		    "    type: process.kill\n"
		    "    target: {cmdline: \"a+++++++++++++\", count: 1}\n"
		    "  - name: k2\n"
		    "    type: process.kill\n"
		    "    target: {cmdline: \"(a+)\\\\1\", count: 1}\n",
	       "t.yaml:11:23: faults[0].target.cmdline: regular expression 'a+++++++++++++' is "
	       "too complex (its repetitions expand to more than 4096 elements)\n"
	       "t.yaml:14:23: faults[1].target.cmdline: regular expression '(a+)\\\\1' uses a "
	       "back-reference (\\1), which POSIX extended syntax does not have\n");
	expect(HEAD "  - name: k\n"
		    "    type: process.kill\n"
		    "    target: {name: a-very-long-process-name, count: 1}\n"
		    "    params: {signal: SIGKIL}\n",
	       "t.yaml:11:20: faults[0].target.name: process name 'a-very-long-process-name' is "
	       "longer than 15 characters, the kernel's limit; match longer names with "
	       "'cmdline'\n"
	       "t.yaml:12:22: faults[0].params.signal: unknown signal 'SIGKIL'; did you mean "
	       "'SIGKILL'?\n");
	expect(HEAD "  - name: f1\n"
		    "    type: network.bandwidth\n"
		    "    duration: 1m\n"
		    "    target: {interface: eth0/1, cidrs: [192.0.2.0/24], protocol: icmp, ports: "
		    "[1]}\n"
		    "    params: {rate: 10mbps}\n",
	       "t.yaml:12:25: faults[0].target.interface: invalid interface name 'eth0/1': 1 to "
	       "15 characters without '/', ':' or spaces\n"
	       "t.yaml:12:66: faults[0].target.protocol: icmp has no ports; remove the ports or "
	       "use tcp, udp or any\n"
	       "t.yaml:13:20: faults[0].params.rate: rate '10mbps' is ambiguous: write '10mbit' "
	       "for bits or '10MB/s' for bytes per second\n");
	expect("version: 1\nname: t\nhypothesis: h\nduration: 10m\n"
	       "agents:\n"
	       "  - {name: a1, address: \"http://192.0.2.1\"}\n"
	       "  - {name: a2, address: \"ssh://ops@[2001:db8::1]:70000\"}\n"
	       "faults:\n" OK_FAULT,
	       "t.yaml:6:25: agents[0].address: invalid agent address 'http://192.0.2.1': "
	       "expected unix:///PATH or ssh://[USER@]HOST[:PORT][/PATH]\n"
	       "t.yaml:7:25: agents[1].address: invalid agent address "
	       "'ssh://ops@[2001:db8::1]:70000': port '70000' is not a number from 1 to 65535\n");
	/* The same parser as faultctl --agent: a remote socket path is fine, a bad one is not. */
	expect("version: 1\nname: t\nhypothesis: h\nduration: 10m\n"
	       "agents:\n"
	       "  - {name: a1, address: \"ssh://ops@db-1:2222/run/fl/agent.sock\"}\n"
	       "  - {name: a2, address: \"ssh://2001:db8::1\"}\n"
	       "faults:\n" OK_FAULT,
	       "t.yaml:7:25: agents[1].address: invalid agent address 'ssh://2001:db8::1': an "
	       "IPv6 address must be in brackets (ssh://[2001:db8::1]:22)\n");
	expect(HEAD OK_FAULT
	       "guardrails:\n"
	       "  - name: g\n"
	       "    http: {url: \"https://user:pw@127.0.0.1/\", min_success_ratio: 99%}\n"
	       "  - name: p\n"
	       "    prometheus: {url: \"ftp://127.0.0.1\", query: up, expect: \"<< 1\"}\n",
	       "t.yaml:14:17: guardrails[0].http.url: invalid URL 'https://user:pw@127.0.0.1/': "
	       "credentials (user@) do not belong in experiment files\n"
	       "t.yaml:16:23: guardrails[1].prometheus.url: invalid URL 'ftp://127.0.0.1': must "
	       "start with http:// or https://\n"
	       "t.yaml:16:61: guardrails[1].prometheus.expect: invalid comparison '<< 1': "
	       "expected an operator (<, <=, >, >=, ==, !=) and a number, as in '< 0.01'\n");
	expect(HEAD OK_FAULT "safety:\n"
			     "  window: {days: [mon, mon, fr], start: \"25:00\", end: \"9:00\",\n"
			     "           timezone: \"../etc/passwd\"}\n",
	       "t.yaml:13:24: safety.window.days[1]: 'mon' is listed twice\n"
	       "t.yaml:13:29: safety.window.days[2]: invalid value 'fr'; did you mean 'fri'?\n"
	       "t.yaml:13:41: safety.window.start: invalid time '25:00': expected HH:MM between "
	       "00:00 and 23:59\n"
	       "t.yaml:13:55: safety.window.end: invalid time '9:00': expected HH:MM between "
	       "00:00 and 23:59\n"
	       "t.yaml:14:22: safety.window.timezone: invalid time zone '../etc/passwd': "
	       "expected an IANA name such as 'Europe/Berlin' or 'UTC'\n");
}

static void test_references_and_names(void **state)
{
	expect(HEAD "  - name: f1\n"
		    "    type: stress.cpu\n"
		    "    agents: [a1, a3, web]\n"
		    "    duration: 1m\n"
		    "  - name: f1\n"
		    "    type: stress.fds\n"
		    "    duration: 1m\n"
		    "    params: {count: 10}\n",
	       "t.yaml:11:18: faults[0].agents[1]: unknown agent 'a3'; did you mean 'a1'?\n"
	       "t.yaml:11:22: faults[0].agents[2]: unknown agent 'web'; it must be a name or "
	       "group from 'agents'\n"
	       "t.yaml:13:11: faults[1].name: fault name 'f1' is already used by faults[0]\n");
	expect("version: 1\nname: t\nhypothesis: h\nduration: 10m\n"
	       "agents:\n"
	       "  - {name: a1}\n"
	       "  - {group: web}\n"
	       "  - {name: a1, address: \"unix:///run/x.sock\"}\n"
	       "  - {group: db, name: x}\n"
	       "  - {address: \"unix:///run/y.sock\"}\n"
	       "faults:\n" OK_FAULT,
	       "t.yaml:6:12: agents[0].name: agent 'a1' has no address, and the experiment "
	       "names no inventory file to look it up in\n"
	       "t.yaml:7:13: agents[1].group: group 'web' comes from an inventory, but the "
	       "experiment names no inventory file\n"
	       "t.yaml:8:12: agents[2].name: 'a1' is already listed as agents[0]\n"
	       "t.yaml:9:13: agents[3].group: an entry is either an agent (name, optional "
	       "address) or an inventory group, not both\n"
	       "t.yaml:10:5: agents[4]: needs a name (with an optional address) or an "
	       "inventory group\n");
	expect(HEAD OK_FAULT
	       "guardrails:\n"
	       "  - name: g\n"
	       "    command: {argv: [/bin/true]}\n"
	       "    prometheus: {url: \"http://127.0.0.1:9090\", query: up, expect: \"== 1\"}\n"
	       "  - name: g\n"
	       "    command: {argv: [/bin/true], timeout: 1m}\n",
	       "t.yaml:15:17: guardrails[0].prometheus: only one probe per entry; 'command' is "
	       "already given\n"
	       "t.yaml:16:11: guardrails[1].name: guardrail name 'g' is already used by "
	       "guardrails[0]\n"
	       "t.yaml:17:43: guardrails[1].command.timeout: timeout 1m is longer than the "
	       "interval 30s\n");
}

static void test_probes(void **state)
{
	expect(HEAD OK_FAULT
	       "guardrails:\n"
	       "  - name: budget\n"
	       "    burn_rate:\n"
	       "      objective: 99.9%\n"
	       "      prometheus: {url: \"http://127.0.0.1:9090\", query: \"sum(errors[5m])\"}\n"
	       "      windows: [{window: 5m, max_burn: 2000x}, {window: 1h, max_burn: 14.4}]\n"
	       "  - name: slow\n"
	       "    http: {url: \"http://127.0.0.1/\", rate: 1/m, window: 30s, max_latency: {}}\n",
	       "t.yaml:16:57: guardrails[0].burn_rate.prometheus.query: the query must use "
	       "$window (replaced by each window's duration, as in [$window]) so that every "
	       "window measures its own error ratio\n"
	       "t.yaml:17:40: guardrails[0].burn_rate.windows[0].max_burn: burn rate 2000x can "
	       "never be exceeded with objective 99.9% (the most is 1000x, when every request "
	       "fails)\n"
	       "t.yaml:19:57: guardrails[1].http.window: window 30s holds no request at rate "
	       "1/m; widen the window or raise the rate\n"
	       "t.yaml:19:75: guardrails[1].http.max_latency: needs at least one of p50, p95 or "
	       "p99\n");
	expect(HEAD OK_FAULT
	       "steady_state:\n"
	       "  before:\n"
	       "    - name: up\n"
	       "      burn_rate:\n"
	       "        objective: 100%\n"
	       "        http: {url: \"http://127.0.0.1/\", expect_status: [200, 600]}\n"
	       "        prometheus: {url: \"http://127.0.0.1/\", query: \"x[$window]\"}\n"
	       "        windows: []\n",
	       "t.yaml:16:20: steady_state.before[0].burn_rate.objective: 100% is out of range "
	       "(more than 0%, at most 99.9999%)\n"
	       "t.yaml:17:63: steady_state.before[0].burn_rate.http.expect_status[1]: status 600 "
	       "is out of range (100 to 599)\n"
	       "t.yaml:18:21: steady_state.before[0].burn_rate.prometheus: give one error-ratio "
	       "source, http or prometheus, not both\n"
	       "t.yaml:19:18: steady_state.before[0].burn_rate.windows: must not be empty\n");
}

/* tls: only with https://, ca_file an absolute path, not together with insecure_skip_verify. */
static void test_tls(void **state)
{
	(void)state;
	expect(HEAD OK_FAULT "guardrails:\n"
			     "  - name: web\n"
			     "    http:\n"
			     "      url: \"http://127.0.0.1/\"\n"
			     "      tls: {ca_file: /etc/ca.pem}\n"
			     "      min_success_ratio: 99%\n"
			     "  - name: prom\n"
			     "    prometheus:\n"
			     "      url: \"https://127.0.0.1:9090\"\n"
			     "      tls: {ca_file: ca.pem, insecure_skip_verify: yes, verify: no}\n"
			     "      query: up\n"
			     "      expect: \"> 0\"\n"
			     "  - name: budget\n"
			     "    burn_rate:\n"
			     "      objective: 99.9%\n"
			     "      http: {url: \"https://127.0.0.1/\", tls: {ca_file: /ca.pem, "
			     "insecure_skip_verify: true}}\n"
			     "      windows: [{window: 5m, max_burn: 14.4}]\n",
	       "t.yaml:16:12: guardrails[0].http.tls: tls applies to https:// URLs only; url is "
	       "http://127.0.0.1/\n"
	       "t.yaml:21:22: guardrails[1].prometheus.tls.ca_file: 'ca.pem' is not an absolute "
	       "path\n"
	       "t.yaml:21:52: guardrails[1].prometheus.tls.insecure_skip_verify: expected true or "
	       "false, got a string\n"
	       "t.yaml:21:57: guardrails[1].prometheus.tls.verify: unknown key (valid keys: "
	       "ca_file, insecure_skip_verify)\n"
	       "t.yaml:27:87: guardrails[2].burn_rate.http.tls.insecure_skip_verify: "
	       "insecure_skip_verify turns off the verification that ca_file is for; give one of "
	       "them\n");
	expect_valid(HEAD OK_FAULT "guardrails:\n"
				   "  - name: web\n"
				   "    http:\n"
				   "      url: \"https://127.0.0.1/\"\n"
				   "      tls: {ca_file: /etc/faultline/ca.pem}\n"
				   "      min_success_ratio: 99%\n"
				   "  - name: prom\n"
				   "    prometheus:\n"
				   "      url: \"https://127.0.0.1:9090\"\n"
				   "      tls: {insecure_skip_verify: true}\n"
				   "      query: up\n"
				   "      expect: \"> 0\"\n");
}

static void test_yaml_level(void **state)
{
	expect("version: 1\nname: t\n\thypothesis: h\n",
	       "t.yaml:3:1: tab character where YAML expects spaces (indent with spaces only)\n");
	/* Anchors, aliases and tags are reported, and so is everything after them. */
	expect("version: 1\nname: &n t\nhypothesis: *n\n",
	       "t.yaml:1:1: agents: missing required field\n"
	       "t.yaml:1:1: duration: missing required field\n"
	       "t.yaml:1:1: faults: missing required field\n"
	       "t.yaml:2:7: name: YAML anchors and aliases are not supported; write the value "
	       "out\n"
	       "t.yaml:3:13: hypothesis: YAML anchors and aliases are not supported; write the "
	       "value out\n");
	expect(HEAD OK_FAULT "hypothesis: *n\n",
	       "t.yaml:12:1: hypothesis: duplicate key 'hypothesis' (first given at line 3, column "
	       "1)\n"
	       "t.yaml:12:13: hypothesis: YAML anchors and aliases are not supported; write the "
	       "value out\n");
	expect(HEAD OK_FAULT "name: !!str t\n",
	       "t.yaml:12:1: name: duplicate key 'name' (first given at line 2, column 1)\n"
	       "t.yaml:12:7: name: YAML tags are not supported\n");
	expect(HEAD OK_FAULT "name: u\n",
	       "t.yaml:12:1: name: duplicate key 'name' (first given at line 2, column 1)\n");
	/*
	 * A mapping key that is an alias or a flow collection has no text of its own: what sits
	 * under it is still reported, under a path that says so (the fuzz pass once found the
	 * path code reading a NULL key there).
	 */
	expect("version: 1\n*x : {a: &y 1}\n",
	       "t.yaml:1:1: agents: missing required field\n"
	       "t.yaml:1:1: duration: missing required field\n"
	       "t.yaml:1:1: faults: missing required field\n"
	       "t.yaml:1:1: hypothesis: missing required field\n"
	       "t.yaml:1:1: name: missing required field\n"
	       "t.yaml:2:1: YAML anchors and aliases are not supported; write the value out\n"
	       "t.yaml:2:10: ''.a: YAML anchors and aliases are not supported; write the value "
	       "out\n");
	expect("version: 1\n? {k: v}\n: {a: &y 1}\n",
	       "t.yaml:2:3: mapping keys must be plain text, not a mapping\n");
	expect("version: 1\n---\nversion: 2\n",
	       "t.yaml:2:1: only one YAML document per file is allowed\n");
	expect("version: 1\nname: [t\n",
	       "t.yaml:3:1: did not find expected ',' or ']' (while parsing a flow sequence at "
	       "line 2, column 7)\n");
	expect("", "t.yaml:1:1: empty document\n");
	expect("# nothing but a comment\n", "t.yaml:1:1: empty document\n");
	expect("version: 1\nname: \"a\\0b\"\n",
	       "t.yaml:2:7: name: text contains a NUL character\n");
	expect("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
	       "t.yaml:1:33: [0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
	       "[0][0][0][0][0][0][0][0][0]: nested deeper than 32 levels\n");
	/* JSON is read as YAML flow syntax, so its positions are exact too. */
	expect("{\"version\": 1, \"name\": \"t\", \"hypothesis\": \"h\",\n"
	       " \"agents\": [{\"name\": \"a1\", \"adress\": \"unix:///a\"}],\n"
	       " \"duration\": \"10m\", \"faults\": []}\n",
	       "t.yaml:2:28: agents[0].adress: unknown key; did you mean 'address'?\n"
	       "t.yaml:3:31: faults: must not be empty\n");
}

/*
 * An anchor once ended the reading: the problems after it went unreported. Every kind of
 * place an anchor, alias or tag can take, each followed by a problem that must still be found.
 */
static void test_problems_past_anchors(void **state)
{
	expect(HEAD "  - name: a\n"
		    "    type: network.loss\n"
		    "    duration: &d 1m\n"
		    "    target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
		    "    params: {probability: 150%}\n"
		    "  - name: b\n"
		    "    type: network.loss\n"
		    "    duration: *d\n"
		    "    target: &t {interface: eth0, cidrs: [192.0.2.0/33]}\n"
		    "    params: {probability: 250%}\n"
		    "  - name: c\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: *t\n"
		    "    params: {probability: 5%, *d : x}\n"
		    "  - *t\n"
		    "  - name: e\n"
		    "    type: !!str stress.cpu\n"
		    "    duration: 1m\n"
		    "    params: !!map {workers: 0}\n"
		    "    oops: 1\n",
	       "t.yaml:11:15: faults[0].duration: YAML anchors and aliases are not supported; "
	       "write the value out\n"
	       "t.yaml:13:27: faults[0].params.probability: 150% is out of range (more than 0%, "
	       "at most 100%)\n"
	       "t.yaml:16:15: faults[1].duration: YAML anchors and aliases are not supported; "
	       "write the value out\n"
	       "t.yaml:17:13: faults[1].target: YAML anchors and aliases are not supported; "
	       "write the value out\n"
	       "t.yaml:17:42: faults[1].target.cidrs[0]: invalid CIDR '192.0.2.0/33': the prefix "
	       "length must be 0 to 32\n"
	       "t.yaml:18:27: faults[1].params.probability: 250% is out of range (more than 0%, "
	       "at most 100%)\n"
	       "t.yaml:22:13: faults[2].target: YAML anchors and aliases are not supported; "
	       "write the value out\n"
	       "t.yaml:23:31: faults[2].params: YAML anchors and aliases are not supported; "
	       "write the value out\n"
	       "t.yaml:24:5: faults[3]: YAML anchors and aliases are not supported; write the "
	       "value out\n"
	       "t.yaml:26:11: faults[4].type: YAML tags are not supported\n"
	       "t.yaml:28:13: faults[4].params: YAML tags are not supported\n"
	       "t.yaml:29:5: faults[4].oops: unknown key (valid keys: name, type, agents, start, "
	       "duration, target, params)\n");
}

static void test_limits(void **state)
{
	size_t n = EXP_MAX_DOC_SIZE + 1;
	char *big = malloc(n + 1);
	char *list;
	size_t o;

	assert_non_null(big);
	memset(big, '#', n);
	big[n] = '\0';
	expect(big, "t.yaml: document is larger than 1048576 bytes\n");
	free(big);

	/* A list longer than any list may be is refused while it is read. */
	list = malloc(8 * (EXP_MAX_LIST + 2) + 16);
	assert_non_null(list);
	o = (size_t)sprintf(list, "a: [");
	for (int i = 0; i <= EXP_MAX_LIST; i++)
		o += (size_t)sprintf(list + o, "%s1", i ? "," : "");
	strcpy(list + o, "]\n");
	expect(list, "t.yaml:1:20005: a[10000]: list has more than 10000 items\n");
	free(list);
}

/* Past DIAG_MAX problems the rest are counted, and rules over the whole file stand down. */
static void test_too_many_problems(void **state)
{
	struct experiment *e = NULL;
	struct diag_list dl;
	char *doc, *got;
	size_t o;

	doc = malloc(strlen(HEAD) + 250 * 64);
	assert_non_null(doc);
	o = (size_t)sprintf(doc, "%s", HEAD);
	for (int i = 0; i < 250; i++)
		o += (size_t)sprintf(doc + o,
				     "  - {name: f%d, type: stress.cpu, duration: 1m, x: 1}\n", i);
	assert_int_equal(diag_init(&dl, "t.yaml"), 0);
	assert_int_equal(exp_load_buf(doc, o, &e, &dl), -EINVAL);
	assert_int_equal(dl.count, DIAG_MAX);
	assert_int_equal(diag_total(&dl), 250);
	got = th_render(&dl);
	assert_non_null(strstr(got,
			       "t.yaml:9:48: faults[0].x: unknown key (valid keys: name, type, "
			       "agents, start, duration, target, params)\n"));
	assert_non_null(strstr(got, "\nt.yaml: 50 more problems not shown\n"));
	free(got);
	free(doc);
	diag_clear(&dl);
}

/* One document with many problems: all of them are reported, in source order. */
static void test_many_errors_at_once(void **state)
{
	char path[512], *want = NULL, *got;
	struct experiment *e = NULL;
	struct diag_list dl;
	size_t len = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/unit/data/many-errors.yaml", FL_SOURCE_DIR);
	assert_int_equal(diag_init(&dl, "many-errors.yaml"), 0);
	assert_int_equal(exp_load_file(path, &e, &dl), -EINVAL);
	assert_null(e);
	got = th_render(&dl);
	snprintf(path, sizeof(path), "%s/tests/unit/data/many-errors.expected", FL_SOURCE_DIR);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_not_equal(getdelim(&want, &len, '\0', f), -1);
	fclose(f);
	if (strcmp(got, want))
		fprintf(stderr, "want:\n%s\ngot:\n%s\n", want, got);
	assert_string_equal(got, want);
	free(want);
	free(got);
	diag_clear(&dl);
}

static void test_unreadable_file(void **state)
{
	struct experiment *e = NULL;
	struct diag_list dl;

	assert_int_equal(diag_init(&dl, "/nonexistent/x.yaml"), 0);
	assert_int_equal(exp_load_file("/nonexistent/x.yaml", &e, &dl), -ENOENT);
	th_assert_printed(&dl, NULL, "/nonexistent/x.yaml: No such file or directory\n");
}

/*
 * Load doc from a file named name (in a fresh directory) and compare everything printed,
 * with the file's path replaced by its name, with want. Returns the loader's result.
 */
static int load_named(const char *name, const char *doc, const char *want)
{
	char dir[] = "/tmp/exp_errors.XXXXXX", path[64], *got;
	struct experiment *e = NULL;
	struct diag_list dl;
	FILE *f;
	int r;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(doc, 1, strlen(doc), f), strlen(doc));
	assert_int_equal(fclose(f), 0);
	assert_int_equal(diag_init(&dl, name), 0);
	r = exp_load_file(path, &e, &dl);
	got = th_render(&dl);
	unlink(path);
	rmdir(dir);
	if (strcmp(got, want))
		fprintf(stderr, "document %s:\n%s\nwant:\n%s\ngot:\n%s\n", name, doc, want, got);
	assert_string_equal(got, want);
	free(got);
	diag_clear(&dl);
	exp_free(e);
	return r;
}

#define JSON_HEAD                                                                            \
	"{\n"                                                                                \
	"  \"version\": 1, \"name\": \"t\", \"hypothesis\": \"h\", \"duration\": \"10m\",\n" \
	"  \"agents\": [{\"name\": \"a1\", \"address\": \"unix:///run/a.sock\"}],\n"         \
	"  \"faults\": [{\"name\": \"ok\", \"type\": \"stress.cpu\", \"duration\": \"1m\"}"

/*
 * A .json file is strict JSON: what YAML flow syntax would also take (and once did, so the
 * file ran) is an error with its position; the same text in a .yaml file is YAML.
 */
static void test_json_strict(void **state)
{
	/* Each document loads with exactly the problems printed (none: it is valid). */
	static const struct {
		const char *file, *doc, *want;
	} cases[] = {
		{"ok.json", JSON_HEAD "]\n}\n", ""},
		{"ok.JSON", JSON_HEAD "]\n}\n", ""},
		{"t.json", JSON_HEAD ",]\n}\n",
		 "t.json:4:68: invalid JSON: trailing comma: JSON allows no comma after the last "
		 "item\n"},
		{"t.json", JSON_HEAD "],\n}\n",
		 "t.json:4:69: invalid JSON: trailing comma: JSON allows no comma after the last "
		 "member\n"},
		/* The same trailing comma is YAML flow syntax in a .yaml file. */
		{"t.yaml", JSON_HEAD "],\n}\n", ""},
		{"t.json", JSON_HEAD "]\n  // the end\n}\n",
		 "t.json:5:3: invalid JSON: comments are not allowed in JSON\n"},
		{"t.json", JSON_HEAD "]\n  /* the end */\n}\n",
		 "t.json:5:3: invalid JSON: comments are not allowed in JSON\n"},
		{"t.json", "{\n  'version': 1\n}\n",
		 "t.json:2:3: invalid JSON: strings need double quotes in JSON, not single "
		 "quotes\n"},
		{"t.json", "{\n  version: 1\n}\n",
		 "t.json:2:3: invalid JSON: object keys need double quotes in JSON\n"},
		{"t.json", "{\"version\": 1, \"name\": t}\n",
		 "t.json:1:24: invalid JSON: 't' is not a JSON value: text needs double quotes "
		 "(the words are true, false and null)\n"},
		{"t.json", "{\"version\": 01}\n",
		 "t.json:1:13: invalid JSON: numbers in JSON have no leading zeros\n"},
		{"t.json", "{\"name\": \"\u00e9\", \"x\": \"a\tb\"}\n",
		 "t.json:1:22: invalid JSON: control character 0x09 in a string (write it as an "
		 "escape such as \\n, \\t or \\u0009)\n"},
		{"t.json", "{\"version\": 1\n", "t.json:1:1: invalid JSON: '{' not closed\n"},
		{"t.json", "{\"version\": 1} {}\n",
		 "t.json:1:16: invalid JSON: '{' where the end of the document was expected\n"},
		{"t.json", "version: 1\n",
		 "t.json:1:1: invalid JSON: 'v' where '{' was expected\n"},
		/* Valid JSON goes on to the usual checks, with their positions. */
		{"t.json", JSON_HEAD "],\n  \"safety\": {\"lease_ttl\": \"10m\"}\n}\n",
		 "t.json:5:27: safety.lease_ttl: 10m is out of range (1s to 5m)\n"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(load_named(cases[i].file, cases[i].doc, cases[i].want),
				 cases[i].want[0] ? -EINVAL : 0);
}

static void test_diag_json(void **state)
{
	const char *doc = HEAD "  - name: f1\n    type: stress.fds\n    duration: 1m\n";
	struct experiment *e = NULL;
	struct diag_list dl;
	json_t *j;
	char *s;

	assert_int_equal(diag_init(&dl, "t.yaml"), 0);
	assert_int_equal(exp_load_buf(doc, strlen(doc), &e, &dl), -EINVAL);
	assert_int_equal(diag_to_json(&dl, &j), 0);
	s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "[{\"file\":\"t.yaml\",\"line\":9,\"column\":5,\"path\":"
			       "\"faults[0].params\",\"message\":\"missing required field\"}]");
	free(s);
	json_decref(j);
	diag_clear(&dl);
}

/* Network targets in another namespace: netns (path or {pid}) or container, never both. */
static void test_net_target_netns(void **state)
{
	struct experiment *e = NULL;
	struct diag_list dl;
	const char *ok =
		HEAD "  - name: f\n"
		     "    type: network.loss\n"
		     "    duration: 1m\n"
		     "    target: {netns: /run/netns/far, cidrs: [10.9.0.0/24]}\n"
		     "    params: {probability: 10%}\n"
		     "  - name: g\n"
		     "    type: network.partition\n"
		     "    duration: 1m\n"
		     "    target: {interface: veth1, netns: {pid: 42}, cidrs: [10.9.0.0/24]}\n"
		     "  - name: h\n"
		     "    type: network.loss\n"
		     "    duration: 1m\n"
		     "    target: {container: {name: web}, cidrs: [10.9.0.0/24]}\n"
		     "    params: {probability: 10%}\n";

	(void)state;
	assert_int_equal(diag_init(&dl, "t.yaml"), 0);
	th_assert_clean(exp_load_buf(ok, strlen(ok), &e, &dl), &dl);
	assert_non_null(e);
	assert_string_equal(e->faults[0].target.net.netns_path, "/run/netns/far");
	assert_null(e->faults[0].target.net.interface);
	assert_int_equal(e->faults[1].target.net.netns_pid, 42);
	assert_string_equal(e->faults[1].target.net.interface, "veth1");
	assert_string_equal(e->faults[2].target.net.container->name, "web");
	exp_free(e);

	expect(HEAD
	       "  - name: f\n"
	       "    type: network.loss\n"
	       "    duration: 1m\n"
	       "    target: {netns: run/netns/far, container: {name: web}, cidrs: [10.9.0.0/24]}\n"
	       "    params: {probability: 10%}\n",
	       "t.yaml:12:21: faults[0].target.netns: 'run/netns/far' is not an absolute path\n"
	       "t.yaml:12:47: faults[0].target.container: 'netns' and 'container' cannot be "
	       "combined; a network fault acts in one namespace: name it by netns or by "
	       "container\n");
	expect(HEAD "  - name: f\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {netns: {pid: 0, path: x}, cidrs: [10.9.0.0/24]}\n"
		    "    params: {probability: 10%}\n",
	       "t.yaml:12:27: faults[0].target.netns.pid: 0 is out of range (1 to 4194304)\n"
	       "t.yaml:12:30: faults[0].target.netns.path: unknown key (valid keys: pid)\n");
	expect(HEAD "  - name: f\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {netns: [a], cidrs: [10.9.0.0/24]}\n"
		    "    params: {probability: 10%}\n",
	       "t.yaml:12:21: faults[0].target.netns: expected a namespace file path (such as "
	       "/run/netns/NAME) or {pid: N}, got a list\n");
}

/* follow_restarts: a boolean of a network fault's container; refused elsewhere, by path. */
static void test_container_follow_restarts(void **state)
{
	struct experiment *e = NULL;
	struct diag_list dl;
	const char *ok = HEAD "  - name: h\n"
			      "    type: network.loss\n"
			      "    duration: 1m\n"
			      "    target: {container: {name: web, follow_restarts: true}, cidrs: "
			      "[10.9.0.0/24]}\n"
			      "    params: {probability: 10%}\n";

	(void)state;
	assert_int_equal(diag_init(&dl, "t.yaml"), 0);
	th_assert_clean(exp_load_buf(ok, strlen(ok), &e, &dl), &dl);
	assert_non_null(e);
	assert_true(e->faults[0].target.net.container->follow_restarts);
	assert_ptr_equal(exp_fault_container(&e->faults[0]), e->faults[0].target.net.container);
	exp_free(e);

	expect(HEAD "  - name: k\n"
		    "    type: process.pause\n"
		    "    duration: 1m\n"
		    "    target: {container: {name: web, follow_restarts: true}, all: true}\n",
	       "t.yaml:12:54: faults[0].target.container.follow_restarts: only network faults "
	       "follow a container's restarts; a process.pause is not carried over to a new "
	       "container: remove follow_restarts\n");
	expect(HEAD "  - name: s\n"
		    "    type: stress.cpu\n"
		    "    duration: 1m\n"
		    "    target: {container: {id: 0123456789ab, follow_restarts: true}}\n"
		    "    params: {workers: 1}\n",
	       "t.yaml:12:61: faults[0].target.container.follow_restarts: only network faults "
	       "follow a container's restarts; a stress.cpu is not carried over to a new "
	       "container: remove follow_restarts\n");
	expect(HEAD "  - name: h\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {container: {name: web, follow_restarts: yes}, cidrs: "
		    "[10.9.0.0/24]}\n"
		    "    params: {probability: 10%}\n",
	       "t.yaml:12:54: faults[0].target.container.follow_restarts: expected true or false, "
	       "got a string\n");
}

/* count, percent or all select among the containers a container target matches, and only there. */
static void test_net_target_containers(void **state)
{
	struct experiment *e = NULL;
	struct diag_list dl;
	const char *ok =
		HEAD "  - name: f\n"
		     "    type: network.loss\n"
		     "    duration: 1m\n"
		     "    target: {container: {compose: {project: p, service: s}}, all: true,\n"
		     "             cidrs: [10.9.0.0/24]}\n"
		     "    params: {probability: 10%}\n"
		     "  - name: g\n"
		     "    type: network.partition\n"
		     "    duration: 1m\n"
		     "    target: {container: {compose: {project: p, service: t}}, percent: 50%,\n"
		     "             cidrs: [10.9.0.0/24]}\n";

	(void)state;
	assert_int_equal(diag_init(&dl, "t.yaml"), 0);
	th_assert_clean(exp_load_buf(ok, strlen(ok), &e, &dl), &dl);
	assert_non_null(e);
	assert_true(e->faults[0].target.net.all);
	assert_int_equal(e->faults[1].target.net.percent_ppm, 500000);
	exp_free(e);

	expect(HEAD "  - name: f\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {interface: lo, count: 2, cidrs: [10.9.0.0/24]}\n"
		    "    params: {probability: 10%}\n",
	       "t.yaml:12:36: faults[0].target.count: 'count' selects among the containers a "
	       "container target matches; it needs target.container\n");
	expect(HEAD
	       "  - name: f\n"
	       "    type: network.loss\n"
	       "    duration: 1m\n"
	       "    target: {container: {name: w}, count: 2, all: false, cidrs: [10.9.0.0/24]}\n"
	       "    params: {probability: 10%}\n",
	       "t.yaml:12:51: faults[0].target.all: 'count' and 'all' cannot be combined; give one "
	       "of count, percent or all\n"
	       "t.yaml:12:51: faults[0].target.all: all: false selects nothing; remove it, or use "
	       "count or percent\n");
	expect(HEAD "  - name: f\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {container: {name: w, follow_restarts: true}, all: true,\n"
		    "             cidrs: [10.9.0.0/24]}\n"
		    "    params: {probability: 10%}\n",
	       "t.yaml:12:64: faults[0].target.all: 'all' may select several containers, whose "
	       "restarts are not followed (one that exits is dropped from the fault): remove "
	       "follow_restarts, or name one container\n");
}

/* seed fixes which containers count or percent choose; it needs a choice to make. */
static void test_net_target_container_seed(void **state)
{
	struct experiment *e = NULL;
	struct diag_list dl;
	const char *ok =
		HEAD "  - name: f\n"
		     "    type: network.loss\n"
		     "    duration: 1m\n"
		     "    target: {container: {compose: {project: p, service: s}}, count: 2,\n"
		     "             seed: 42, cidrs: [10.9.0.0/24]}\n"
		     "    params: {probability: 10%}\n"
		     "  - name: g\n"
		     "    type: network.partition\n"
		     "    duration: 1m\n"
		     "    target: {container: {compose: {project: p, service: t}}, percent: 50%,\n"
		     "             seed: 9007199254740991, cidrs: [10.9.0.0/24]}\n";

	(void)state;
	assert_int_equal(diag_init(&dl, "t.yaml"), 0);
	th_assert_clean(exp_load_buf(ok, strlen(ok), &e, &dl), &dl);
	assert_non_null(e);
	assert_int_equal(e->faults[0].target.net.seed, 42);
	assert_int_equal(e->faults[1].target.net.seed, 9007199254740991ULL);
	exp_free(e);

	/* all chooses nothing, nor does a single container or a netns. */
	expect(HEAD "  - name: f\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {container: {name: w}, all: true, seed: 7, cidrs: [10.9.0.0/24]}\n"
		    "    params: {probability: 10%}\n",
	       "t.yaml:12:53: faults[0].target.seed: 'seed' chooses which of the containers a "
	       "container target matches count or percent selects; it needs target.container "
	       "with count or percent\n");
	expect(HEAD "  - name: f\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {interface: lo, seed: 7, cidrs: [10.9.0.0/24]}\n"
		    "    params: {probability: 10%}\n",
	       "t.yaml:12:35: faults[0].target.seed: 'seed' chooses which of the containers a "
	       "container target matches count or percent selects; it needs target.container "
	       "with count or percent\n");
	expect(HEAD "  - name: f\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {container: {name: w}, count: 1, seed: 0, cidrs: [10.9.0.0/24]}\n"
		    "    params: {probability: 10%}\n",
	       "t.yaml:12:52: faults[0].target.seed: 0 is out of range (1 to 9007199254740991)\n");
}

/*
 * Conflicts are per namespace: the same interface name in the agent's namespace and in
 * another one are two links; two faults in one namespace (its default-route interface) clash.
 */
static void test_net_netns_conflicts(void **state)
{
	(void)state;
	expect_valid(HEAD
		     "  - name: host\n"
		     "    type: network.loss\n"
		     "    duration: 1m\n"
		     "    target: {interface: eth0, cidrs: [10.9.0.0/24]}\n"
		     "    params: {probability: 10%}\n"
		     "  - name: inside\n"
		     "    type: network.loss\n"
		     "    duration: 1m\n"
		     "    target: {interface: eth0, netns: /run/netns/far, cidrs: [10.9.0.0/24]}\n"
		     "    params: {probability: 10%}\n");
	expect(HEAD "  - name: a\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {netns: /run/netns/far, cidrs: [10.9.0.0/24]}\n"
		    "    params: {probability: 10%}\n"
		    "  - name: b\n"
		    "    type: network.loss\n"
		    "    duration: 1m\n"
		    "    target: {interface: eth0, netns: /run/netns/far, cidrs: [10.9.0.1]}\n"
		    "    params: {probability: 10%}\n",
	       "t.yaml:14:5: faults[1]: conflicts with fault 'a' (faults[0]): both drop packets on "
	       "(default-route interface) egress for overlapping addresses and ports from t+0s to "
	       "t+1m\n");
}

/* A network.dns fault on eth0 towards 192.0.2.53, in a document's faults list. */
#define DNS_FAULT(name, names, extra)                                       \
	"  - name: " name "\n"                                              \
	"    type: network.dns\n"                                           \
	"    duration: 1m\n"                                                \
	"    target: {interface: eth0, cidrs: [192.0.2.53]}\n"              \
	"    params: {names: " names ", action: nxdomain" extra "}\n"

/*
 * Two network.dns faults on one target whose patterns can match one query name, for a query
 * type both select, conflict: the same name, an exact name below a suffix pattern, nested
 * suffixes. Names that no query matches twice, disjoint types, other resolvers or ports, or
 * another interface combine.
 */
static void test_dns_conflicts(void **state)
{
	(void)state;
	expect(HEAD DNS_FAULT("a", "[x.test, db.internal]", "")
		       DNS_FAULT("b", "[DB.Internal.]", ""),
	       "t.yaml:14:5: faults[1]: conflicts with fault 'a' (faults[0]): both fault DNS "
	       "queries for names that match both 'db.internal' and 'DB.Internal.' on eth0 to "
	       "overlapping resolvers from t+0s to t+1m\n");
	expect(HEAD DNS_FAULT("a", "[\"*.example.com\"]", "")
		       DNS_FAULT("b", "[api.example.com]", ", qtypes: [A]"),
	       "t.yaml:14:5: faults[1]: conflicts with fault 'a' (faults[0]): both fault DNS "
	       "queries for names that match both '*.example.com' and 'api.example.com' on eth0 "
	       "to overlapping resolvers from t+0s to t+1m\n");
	expect(HEAD DNS_FAULT("a", "[\"*.api.example.com\"]", ", qtypes: [A, AAAA]")
		       DNS_FAULT("b", "[\"*.example.com\"]", ", qtypes: [AAAA]"),
	       "t.yaml:14:5: faults[1]: conflicts with fault 'a' (faults[0]): both fault DNS "
	       "queries for names that match both '*.api.example.com' and '*.example.com' "
	       "(overlapping qtypes) on eth0 to overlapping resolvers from t+0s to t+1m\n");
	expect(HEAD DNS_FAULT("a", "[\"*.example.com\"]", "")
		       DNS_FAULT("b", "[\"*.example.com\"]", ""),
	       "t.yaml:14:5: faults[1]: conflicts with fault 'a' (faults[0]): both fault DNS "
	       "queries for '*.example.com' on eth0 to overlapping resolvers from t+0s to "
	       "t+1m\n");
	/* The suffix pattern is strictly below its domain; labels compare whole. */
	expect_valid(HEAD DNS_FAULT("a", "[\"*.example.com\"]", "")
			  DNS_FAULT("b", "[example.com, xexample.com, example.com.x]", "")
			  DNS_FAULT("c", "[\"*.pleexample.com\"]", "")
			  DNS_FAULT("d", "[db.internal]", ", qtypes: [A]")
			  DNS_FAULT("e", "[db.internal]", ", qtypes: [AAAA, SRV]"));
	/* Other resolvers, another port, another interface: other queries. */
	expect_valid(HEAD DNS_FAULT("a", "[db.internal]", "")
		     "  - name: b\n"
		     "    type: network.dns\n"
		     "    duration: 1m\n"
		     "    target: {interface: eth0, cidrs: [192.0.2.54]}\n"
		     "    params: {names: [db.internal], action: refused}\n"
		     "  - name: c\n"
		     "    type: network.dns\n"
		     "    duration: 1m\n"
		     "    target: {interface: eth0, cidrs: [192.0.2.53], ports: [5353]}\n"
		     "    params: {names: [db.internal], action: refused}\n"
		     "  - name: d\n"
		     "    type: network.dns\n"
		     "    duration: 1m\n"
		     "    target: {interface: eth1, cidrs: [192.0.2.0/24]}\n"
		     "    params: {names: [db.internal], action: refused}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_minimal),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_missing_fields),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_timing),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_malformed_values),
		cmocka_unit_test(test_references_and_names),
		cmocka_unit_test(test_probes),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_yaml_level),
		cmocka_unit_test(test_problems_past_anchors),
		cmocka_unit_test(test_json_strict),
		cmocka_unit_test(test_ipv4_mapped_cidrs),
		cmocka_unit_test(test_rule_slots),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_too_many_problems),
		cmocka_unit_test(test_faults_limit),
		cmocka_unit_test(test_many_errors_at_once),
		cmocka_unit_test(test_unreadable_file),
		cmocka_unit_test(test_diag_json),
		cmocka_unit_test(test_net_target_netns),
		cmocka_unit_test(test_container_follow_restarts),
		cmocka_unit_test(test_net_target_containers),
		cmocka_unit_test(test_net_target_container_seed),
		cmocka_unit_test(test_net_netns_conflicts),
		cmocka_unit_test(test_dns_conflicts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
