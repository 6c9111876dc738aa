/*
 * The single-fault parser and serialiser, as the agent's API uses them: same rules and
 * messages as inside an experiment file, and a lossless round trip through JSON.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "diag.h"
#include "dnsname.h"
#include "exp.h"
#include "exp_priv.h"
#include "helpers.h"

static struct fault_spec *parse_ok(const char *text)
{
	struct fault_spec *f = NULL;
	struct diag_list dl;

	assert_int_equal(diag_init(&dl, "fault"), 0);
	th_assert_clean(exp_fault_parse(text, strlen(text), &f, &dl), &dl);
	return f;
}

TH_LOADER(load, struct fault_spec, exp_fault_parse, exp_fault_free)

static void parse_bad(const char *text, const char *want)
{
	th_expect_problems(load, "request", text, want);
}

/* JSON of f, reparsed, gives an equal fault and the same JSON again. */
static void round_trip(const struct fault_spec *f, const char *want_json)
{
	struct fault_spec *g;
	json_t *j, *j2;
	char *text, *text2;

	assert_int_equal(exp_fault_to_json(f, &j), 0);
	text = json_dumps(j, JSON_COMPACT);
	assert_non_null(text);
	if (want_json)
		assert_string_equal(text, want_json);
	g = parse_ok(text);
	assert_true(exp_fault_equal(f, g));
	assert_int_equal(exp_fault_to_json(g, &j2), 0);
	text2 = json_dumps(j2, JSON_COMPACT);
	assert_string_equal(text, text2);
	free(text);
	free(text2);
	json_decref(j);
	json_decref(j2);
	exp_fault_free(g);
}

static void test_latency_yaml(void **state)
{
	struct fault_spec *f = parse_ok("name: db-latency\n"
					"type: network.latency\n"
					"duration: 1m30s\n"
					"target:\n"
					"  interface: eth0\n"
					"  cidrs: [198.51.100.0/24, \"2001:db8::/32\"]\n"
					"  ports: [5432, \"6000-6010\"]\n"
					"  protocol: tcp\n"
					"params:\n"
					"  delay: 250ms\n"
					"  jitter: 0.5ms\n"
					"  correlation: 12.5%\n"
					"  distribution: pareto\n");

	assert_string_equal(f->name, "db-latency");
	assert_int_equal(f->type, FAULT_NET_LATENCY);
	assert_int_equal(f->start_ns, 0);
	assert_int_equal(f->duration_ns, 90000000000LL);
	assert_string_equal(f->target.net.interface, "eth0");
	assert_int_equal(f->target.net.direction, NET_DIR_EGRESS);
	assert_int_equal(f->target.net.protocol, NET_PROTO_TCP);
	assert_int_equal(f->target.net.n_cidrs, 2);
	assert_int_equal(f->target.net.cidrs[0].family, AF_INET);
	assert_int_equal(f->target.net.cidrs[0].prefix, 24);
	assert_int_equal(f->target.net.cidrs[1].family, AF_INET6);
	assert_int_equal(f->target.net.n_ports, 2);
	assert_int_equal(f->target.net.ports[1].lo, 6000);
	assert_int_equal(f->target.net.ports[1].hi, 6010);
	assert_int_equal(f->params.latency.delay_ns, 250000000);
	assert_int_equal(f->params.latency.jitter_ns, 500000);
	assert_int_equal(f->params.latency.correlation_ppm, 125000);
	assert_int_equal(f->params.latency.distribution, NETEM_DIST_PARETO);
	round_trip(f,
		   "{\"name\":\"db-latency\",\"type\":\"network.latency\",\"start\":\"0s\","
		   "\"duration\":\"1m30s\",\"target\":{\"interface\":\"eth0\",\"direction\":"
		   "\"egress\",\"cidrs\":[\"198.51.100.0/24\",\"2001:db8::/32\"],\"ports\":"
		   "[5432,\"6000-6010\"],\"protocol\":\"tcp\"},\"params\":{\"delay\":\"250ms\","
		   "\"jitter\":\"500us\",\"correlation\":\"12.5%\",\"distribution\":\"pareto\"}}");
	exp_fault_free(f);
}

static void test_every_type_round_trips(void **state)
{
	static const char *const faults[] = {
		"{\"name\": \"l\", \"type\": \"network.loss\", \"duration\": \"1m\","
		" \"target\": {\"interface\": \"veth-lab0\", \"direction\": \"both\","
		" \"cidrs\": [\"192.0.2.0/24\"], \"local_ports\": [8080]},"
		" \"params\": {\"model\": \"gilbert-elliott\", \"p\": \"0.5%\", \"r\": \"20%\"}}",
		"{\"name\": \"l2\", \"type\": \"network.loss\", \"duration\": \"1m\","
		" \"target\": {\"interface\": \"eth0\", \"cidrs\": [\"0.0.0.0/0\", \"::/0\"]},"
		" \"params\": {\"probability\": \"0.0001%\", \"correlation\": \"0%\"}}",
		"{\"name\": \"c\", \"type\": \"network.corruption\", \"duration\": \"10s\","
		" \"target\": {\"interface\": \"eth0\", \"cidrs\": [\"192.0.2.7\"], \"protocol\": "
		"\"udp\"},"
		" \"params\": {\"probability\": \"1%\"}}",
		"name: d\ntype: network.duplication\nduration: 10s\n"
		"target: {interface: eth0, cidrs: [\"2001:db8::1\"], protocol: icmp}\n"
		"params: {probability: 3%, correlation: 50%}\n",
		"name: p\ntype: network.partition\nstart: 5s\nduration: 10s\n"
		"target: {interface: eth0, cidrs: [192.0.2.0/25, 192.0.2.128/25]}\n",
		"name: b\ntype: network.bandwidth\nduration: 10s\n"
		"target: {interface: eth0, direction: ingress, cidrs: [192.0.2.0/24]}\n"
		"params: {rate: 1MiB/s, burst: 64KiB, limit: 1500B}\n",
		"name: k\ntype: process.kill\nstart: 1s\n"
		"target: {pid: 1234, all: true}\n",
		"name: k2\ntype: process.kill\nduration: 1h\n"
		"target: {user: 1000, exe: /usr/sbin/nginx, percent: 50%, seed: 9007199254740991}\n"
		"params: {signal: 15, interval: 1.5s}\n",
		"name: s\ntype: process.pause\nduration: 2s\n"
		"target: {cgroup: /system.slice/x.service, name: x, cmdline: \"^x( |$)\", count: "
		"3}\n",
		"name: fz\ntype: process.pause\nduration: 2s\n"
		"target: {cgroup: /system.slice/x.service, all: true}\n"
		"params: {method: freezer}\n",
		"name: cpu\ntype: stress.cpu\nduration: 1m\nparams: {cpus: \"0-3,8,10-11\"}\n",
		"name: mem\ntype: stress.memory\nduration: 1m\nparams: {size: 1.5GiB}\n",
		"name: df\ntype: stress.disk_fill\nduration: 1m\nparams: {path: /var/tmp/x, size: "
		"99.5%}\n",
		"name: io\ntype: stress.io\nduration: 1m\nparams: {path: /srv/x, rate: 1.5MB/s}\n",
		"name: fds\ntype: stress.fds\nduration: 1m\nparams: {count: 1}\n",
	};

	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		struct fault_spec *f = parse_ok(faults[i]);

		round_trip(f, NULL);
		exp_fault_free(f);
	}
}

/* A process target's container: one of id, name or compose, and a runtime. */
static void test_container_targets(void **state)
{
	static const char *const ok[] = {
		"name: k\ntype: process.kill\n"
		"target: {name: web, container: {id: 2e4763818fc5}, all: true}\n",
		"name: k\ntype: process.kill\ntarget: {container: {id: "
		"2e4763818fc5e21c2c2e26d4dd87cd63fc28cdefd77a44733c7541c7c89847c9, runtime: "
		"podman}, count: 1}\n",
		"name: k\ntype: process.kill\n"
		"target: {cmdline: \"^x\", container: {name: shop_web.1, runtime: docker}, all: "
		"true}\n",
		"name: s\ntype: process.pause\nduration: 5s\n"
		"target: {container: {compose: {project: shop, service: db}, runtime: cri-o}, "
		"all: true}\nparams: {method: freezer}\n",
	};
	struct fault_spec *f;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		f = parse_ok(ok[i]);
		assert_non_null(f->target.proc.container);
		round_trip(f, NULL);
		exp_fault_free(f);
	}
	/* The runtime defaults to auto, written out. */
	f = parse_ok("{name: k, type: process.kill, target: {container: {name: web}, all: true}}");
	assert_string_equal(f->target.proc.container->name, "web");
	assert_int_equal(f->target.proc.container->runtime, CONTAINER_RUNTIME_AUTO);
	round_trip(f, "{\"name\":\"k\",\"type\":\"process.kill\",\"start\":\"0s\",\"target\":"
		      "{\"container\":{\"name\":\"web\",\"runtime\":\"auto\"},\"all\":true},"
		      "\"params\":{\"signal\":\"SIGKILL\"}}");
	exp_fault_free(f);

	parse_bad("name: k\ntype: process.kill\n"
		  "target: {container: {id: 2e4763818fc5, name: web, runtim: podman}, all: true}\n",
		  "request:3:46: target.container.name: 'id' and 'name' cannot be combined; name "
		  "the container by one of id, name or compose\n"
		  "request:3:51: target.container.runtim: unknown key; did you mean 'runtime'?\n");
	parse_bad("name: k\ntype: process.kill\ntarget: {container: {id: 2E4763818FC5}, all: "
		  "true}\n",
		  "request:3:26: target.container.id: a container id is lower-case hex; 'E' at "
		  "offset 1 is not\n");
	parse_bad("name: k\ntype: process.kill\ntarget: {container: {id: abc1234}, all: true}\n",
		  "request:3:26: target.container.id: a container id prefix needs at least 12 "
		  "hex digits to be unique, got 7\n");
	parse_bad("name: k\ntype: process.kill\ntarget: {container: {runtime: rkt}, all: true}\n",
		  "request:3:21: target.container: needs one of id, name or compose to say which "
		  "container\n"
		  "request:3:31: target.container.runtime: invalid value 'rkt'; expected one of: "
		  "auto, docker, podman, containerd, cri-o\n");
	parse_bad("name: k\ntype: process.kill\n"
		  "target: {container: {compose: {project: shop}}, all: true}\n",
		  "request:3:31: target.container.compose.service: missing required field\n");
	parse_bad("name: s\ntype: process.pause\nduration: 5s\n"
		  "target: {cgroup: /app, container: {name: web}, all: true}\n"
		  "params: {method: freezer}\n",
		  "request:4:35: target.container: method freezer freezes one cgroup: give "
		  "target.cgroup or target.container, not both\n");
}

/* stress.cpu and stress.memory take an optional container target, and only that. */
static void test_stress_container_target(void **state)
{
	struct fault_spec *f;
	char d[256];

	f = parse_ok("name: c\ntype: stress.cpu\nduration: 1m\n"
		     "target: {container: {name: web, runtime: podman}}\nparams: {workers: 2}\n");
	assert_string_equal(f->target.stress.container->name, "web");
	round_trip(f, "{\"name\":\"c\",\"type\":\"stress.cpu\",\"start\":\"0s\",\"duration\":"
		      "\"1m\",\"target\":{\"container\":{\"name\":\"web\",\"runtime\":\"podman\"}},"
		      "\"params\":{\"workers\":2,\"load\":\"100%\"}}");
	exp_describe_target(f, d, sizeof(d));
	assert_string_equal(d, "inside container 'web' (podman)");
	exp_fault_free(f);
	f = parse_ok("name: m\ntype: stress.memory\nduration: 1m\n"
		     "target: {container: {compose: {project: shop, service: db}}}\n"
		     "params: {size: 1GiB}\n");
	exp_describe_target(f, d, sizeof(d));
	assert_string_equal(d, "inside compose service shop/db");
	round_trip(f, NULL);
	exp_fault_free(f);
	/* Without a target, the host as before. */
	f = parse_ok("name: c\ntype: stress.cpu\nduration: 1m\n");
	assert_null(f->target.stress.container);
	exp_describe_target(f, d, sizeof(d));
	assert_string_equal(d, "the agent's host");
	exp_fault_free(f);

	/* A disk fill's path inside a container's filesystem. */
	f = parse_ok("name: d\ntype: stress.disk_fill\nduration: 1m\n"
		     "target: {container: {id: 2e4763818fc5}}\n"
		     "params: {path: /srv/x, size: 1GiB}\n");
	exp_describe_target(f, d, sizeof(d));
	assert_string_equal(d, "inside container id 2e4763818fc5");
	round_trip(f, NULL);
	exp_fault_free(f);

	f = parse_ok("name: i\ntype: stress.io\nduration: 1m\n"
		     "target: {container: {name: db}}\nparams: {path: /var/lib/db, rate: 1MB/s}\n");
	assert_string_equal(f->target.stress.container->name, "db");
	round_trip(f, NULL);
	exp_fault_free(f);

	parse_bad("name: c\ntype: stress.cpu\nduration: 1m\ntarget: {}\n",
		  "request:4:9: target.container: missing required field\n");
	parse_bad("name: c\ntype: stress.cpu\nduration: 1m\n"
		  "target: {container: {id: abc1234}, pid: 1}\n",
		  "request:4:26: target.container.id: a container id prefix needs at least 12 "
		  "hex digits to be unique, got 7\n"
		  "request:4:36: target.pid: unknown key (valid keys: container)\n");
}

/* The plan names the container of a process target, however it was named. */
static void test_container_in_plan(void **state)
{
	struct experiment *e = NULL;
	struct diag_list dl;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(diag_init(&dl, "x"), 0);
	th_assert_clean(exp_load_file(FL_SOURCE_DIR "/experiments/container-kill.yaml", &e, &dl),
			&dl);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(exp_plan_render(f, e, "container-kill.yaml"), 0);
	fclose(f);
	assert_non_null(strstr(text, "1 process with name='gunicorn' in compose service shop/web "
				     "(seed 11)"));
	assert_non_null(strstr(text, "all processes in container 'shop-db-1' (docker)"));
	free(text);
	exp_free(e);
}

/* The network example's partition follows its container's restarts, and the plan says so. */
static void test_plan_follows_restarts(void **state)
{
	struct experiment *e = NULL;
	struct diag_list dl;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(diag_init(&dl, "x"), 0);
	th_assert_clean(
		exp_load_file(FL_SOURCE_DIR "/experiments/container-network.yaml", &e, &dl), &dl);
	assert_true(e->faults[0].target.net.container->follow_restarts);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(exp_plan_render(f, e, "container-network.yaml"), 0);
	fclose(f);
	if (!strstr(text, "container 'shop-web-1', following its restarts"))
		fail_msg("the plan does not say the partition follows restarts:\n%s", text);
	free(text);
	exp_free(e);
}

/* A network target's seed: kept through the canonical JSON, said by the plan's description. */
static void test_net_container_seed(void **state)
{
	struct fault_spec *f;
	char d[512];

	(void)state;
	f = parse_ok("name: l\ntype: network.loss\nduration: 1m\n"
		     "target: {container: {compose: {project: shop, service: web}}, count: 2, "
		     "seed: 42, cidrs: [10.0.0.0/8]}\n"
		     "params: {probability: 10%}\n");
	assert_int_equal(f->target.net.seed, 42);
	round_trip(f, NULL);
	exp_describe_target(f, d, sizeof(d));
	if (!strstr(d, "2 of the matching containers (seed 42)"))
		fail_msg("the description does not say the seed: %s", d);
	exp_fault_free(f);
}

static void test_defaults_written_out(void **state)
{
	struct fault_spec *f;

	/* Partitions cut both ways unless told otherwise; other network faults egress. */
	f = parse_ok("{name: p, type: network.partition, duration: 1s,"
		     " target: {interface: eth0, cidrs: [192.0.2.0/24]}}");
	assert_int_equal(f->target.net.direction, NET_DIR_BOTH);
	round_trip(f, "{\"name\":\"p\",\"type\":\"network.partition\",\"start\":\"0s\","
		      "\"duration\":\"1s\",\"target\":{\"interface\":\"eth0\",\"direction\":"
		      "\"both\",\"cidrs\":[\"192.0.2.0/24\"],\"protocol\":\"any\"}}");
	exp_fault_free(f);

	f = parse_ok("{name: c, type: stress.cpu, duration: 1s}");
	assert_int_equal(f->params.cpu.workers, 1);
	assert_int_equal(f->params.cpu.load_ppm, 1000000);
	round_trip(f, "{\"name\":\"c\",\"type\":\"stress.cpu\",\"start\":\"0s\",\"duration\":"
		      "\"1s\",\"params\":{\"workers\":1,\"load\":\"100%\"}}");
	exp_fault_free(f);

	f = parse_ok("{name: k, type: process.kill, target: {name: x, count: 1}}");
	assert_int_equal(f->params.kill.signal, 9);
	assert_int_equal(f->duration_ns, 0);
	round_trip(f, "{\"name\":\"k\",\"type\":\"process.kill\",\"start\":\"0s\",\"target\":"
		      "{\"name\":\"x\",\"count\":1},\"params\":{\"signal\":\"SIGKILL\"}}");
	exp_fault_free(f);

	/* Gilbert-Elliott: loss in the bad state is 100% unless given. */
	f = parse_ok("{name: l, type: network.loss, duration: 1s, target: {interface: eth0,"
		     " cidrs: [192.0.2.0/24]}, params: {model: gilbert-elliott, p: 1%, r: 2%}}");
	assert_int_equal(f->params.loss.one_minus_h_ppm, 1000000);
	assert_int_equal(f->params.loss.one_minus_k_ppm, 0);
	round_trip(f, NULL);
	exp_fault_free(f);
}

static void test_dns(void **state)
{
	struct fault_spec *f;
	struct dnsname n;
	char why[300];

	/* Defaults: every type, 100%, port 53; names kept as written. */
	f = parse_ok("{name: d, type: network.dns, duration: 1s, target: {interface: eth0,"
		     " cidrs: [192.0.2.53]}, params: {names: [db.internal., '*.Example.com'],"
		     " action: servfail}}");
	assert_int_equal(f->params.dns.n_names, 2);
	assert_int_equal(f->params.dns.n_qtypes, 0);
	assert_int_equal(f->params.dns.action, DNS_ACTION_SERVFAIL);
	assert_int_equal(f->params.dns.probability_ppm, 1000000);
	assert_int_equal(f->target.net.n_ports, 1);
	assert_int_equal(f->target.net.ports[0].lo, 53);
	round_trip(f, "{\"name\":\"d\",\"type\":\"network.dns\",\"start\":\"0s\","
		      "\"duration\":\"1s\",\"target\":{\"interface\":\"eth0\",\"direction\":"
		      "\"egress\",\"cidrs\":[\"192.0.2.53/32\"],\"ports\":[53],\"protocol\":"
		      "\"any\"},\"params\":{\"names\":[\"db.internal.\",\"*.Example.com\"],"
		      "\"action\":\"servfail\",\"probability\":\"100%\"}}");
	exp_fault_free(f);
	f = parse_ok(
		"{name: d, type: network.dns, duration: 1s, target: {interface: eth0,"
		" cidrs: [192.0.2.53], ports: [5353]}, params: {names: [a.b], qtypes: [AAAA, SRV],"
		" action: drop, probability: 25%}}");
	assert_int_equal(f->target.net.ports[0].lo, 5353);
	assert_int_equal(f->params.dns.n_qtypes, 2);
	assert_int_equal(dnsname_qtype_number(f->params.dns.qtypes[0]), 28);
	assert_int_equal(dnsname_qtype_number(f->params.dns.qtypes[1]), 33);
	round_trip(f, NULL);
	exp_fault_free(f);

	/* spoof: addresses of each family, the TTL's default; an IPv6 resolver. */
	f = parse_ok("{name: d, type: network.dns, duration: 1s, target: {interface: eth0,"
		     " cidrs: ['2001:db8::53']}, params: {names: [db.internal], action: spoof,"
		     " a: [192.0.2.7, 192.0.2.8], aaaa: ['2001:db8::7']}}");
	assert_int_equal(f->params.dns.action, DNS_ACTION_SPOOF);
	assert_int_equal(f->params.dns.n_a, 2);
	assert_int_equal(f->params.dns.a[1].family, AF_INET);
	assert_int_equal(f->params.dns.a[1].addr[3], 8);
	assert_int_equal(f->params.dns.n_aaaa, 1);
	assert_int_equal(f->params.dns.aaaa[0].family, AF_INET6);
	assert_int_equal(f->params.dns.aaaa[0].addr[15], 7);
	assert_int_equal(f->params.dns.ttl, 60);
	assert_int_equal(f->target.net.cidrs[0].family, AF_INET6);
	round_trip(f, "{\"name\":\"d\",\"type\":\"network.dns\",\"start\":\"0s\","
		      "\"duration\":\"1s\",\"target\":{\"interface\":\"eth0\",\"direction\":"
		      "\"egress\",\"cidrs\":[\"2001:db8::53/128\"],\"ports\":[53],\"protocol\":"
		      "\"any\"},\"params\":{\"names\":[\"db.internal\"],\"action\":\"spoof\","
		      "\"probability\":\"100%\",\"a\":[\"192.0.2.7/32\",\"192.0.2.8/32\"],"
		      "\"aaaa\":[\"2001:db8::7/128\"],\"ttl\":60}}");
	exp_fault_free(f);
	f = parse_ok("{name: d, type: network.dns, duration: 1s, target: {interface: eth0,"
		     " cidrs: [192.0.2.53]}, params: {names: [db.internal], action: spoof,"
		     " aaaa: ['2001:db8::7'], ttl: 1}}");
	assert_int_equal(f->params.dns.n_a, 0);
	assert_int_equal(f->params.dns.ttl, 1);
	round_trip(f, NULL);
	exp_fault_free(f);

	/* Wire format, lower case; the suffix flag; the final dot optional. */
	assert_int_equal(dnsname_parse("*.Example.COM", &n, why, sizeof(why)), 0);
	assert_true(n.suffix);
	assert_int_equal(n.len, 13);
	assert_memory_equal(n.wire, "\7example\3com\0", 13);
	assert_int_equal(dnsname_parse("db.internal.", &n, why, sizeof(why)), 0);
	assert_false(n.suffix);
	assert_memory_equal(n.wire, "\2db\10internal\0", 13);
	assert_int_equal(dnsname_parse("*.", &n, why, sizeof(why)), -EINVAL);
	assert_int_equal(dnsname_parse(".", &n, why, sizeof(why)), -EINVAL);
	assert_int_equal(dnsname_parse("a..b", &n, why, sizeof(why)), -EINVAL);
	assert_int_equal(dnsname_parse("a.*.b", &n, why, sizeof(why)), -EINVAL);
	assert_int_equal(dnsname_parse("a b", &n, why, sizeof(why)), -EINVAL);
	assert_int_equal(
		dnsname_parse("x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			      &n, why, sizeof(why)),
		-EINVAL); /* a 64-character label */
	(void)state;
}

static void test_fault_errors(void **state)
{
	/* Paths start at the fault itself, positions are those of the request body. */
	parse_bad("{\"name\": \"x\", \"type\": \"network.latency\", \"duration\": \"1m\",\n"
		  " \"target\": {\"interface\": \"eth0\", \"cidrs\": [\"192.0.2.0/24\"]},\n"
		  " \"params\": {\"delay\": \"10ms\", \"jiter\": \"1ms\"}, \"frobnicate\": 1}\n",
		  "request:3:30: params.jiter: unknown key; did you mean 'jitter'?\n"
		  "request:3:47: frobnicate: unknown key (valid keys: name, type, agents, start, "
		  "duration, target, params)\n");
	parse_bad(
		"name: x\ntype: network.dns\nduration: 1m\n"
		"target: {interface: eth0, cidrs: [192.0.2.53, 2001:db8::53], direction: both}\n"
		"params: {names: [ok, 'a..b', '*.'], action: spoof, qtypes: [A, A]}\n",
		"request:4:73: target.direction: network.dns faults the queries the target sends: "
		"direction must be egress\n"
		"request:5:22: params.names[1]: 'a..b' has an empty label (two dots, or a "
		"leading dot)\n"
		"request:5:30: params.names[2]: '*.' names no domain after '*.' (every name "
		"would match)\n"
		"request:5:45: params.action: spoof needs the addresses to answer with: a (IPv4), "
		"aaaa (IPv6) or both\n"
		"request:5:64: params.qtypes[1]: 'A' is listed twice\n");
	/* spoof's addresses: the family of each list, no prefix; only spoof takes them. */
	parse_bad("name: x\ntype: network.dns\nduration: 1m\n"
		  "target: {interface: eth0, cidrs: [192.0.2.53]}\n"
		  "params: {names: [a.b], action: spoof, a: [192.0.2.1, '2001:db8::1'],\n"
		  "  aaaa: [192.0.2.2, '2001:db8::/64'], ttl: 604801}\n",
		  "request:5:54: params.a[1]: a holds IPv4 addresses: put IPv6 ones in aaaa\n"
		  "request:6:10: params.aaaa[0]: aaaa holds IPv6 addresses: put IPv4 ones in a\n"
		  "request:6:21: params.aaaa[1]: one address, not a network: remove the prefix "
		  "length\n"
		  "request:6:44: params.ttl: 604801 is out of range (1 to 604800)\n");
	parse_bad("name: x\ntype: network.dns\nduration: 1m\n"
		  "target: {interface: eth0, cidrs: [192.0.2.53]}\n"
		  "params: {names: [a.b], action: nxdomain, a: [192.0.2.1], ttl: 5}\n",
		  "request:5:45: params.a: only action spoof answers with records: remove a or "
		  "use action spoof\n"
		  "request:5:63: params.ttl: only action spoof answers with records: remove ttl or "
		  "use action spoof\n");
	parse_bad("name: x\ntype: network.dns\nduration: 1m\n"
		  "target: {interface: eth0, cidrs: [192.0.2.53]}\n"
		  "params: {names: [a.b], action: spoof, a: [192.0.2.1, 192.0.2.2, 192.0.2.3,\n"
		  "  192.0.2.4, 192.0.2.5, 192.0.2.6, 192.0.2.7, 192.0.2.8, 192.0.2.9]}\n",
		  "request:5:42: params.a: has 9 items; at most 8 are allowed\n");
	parse_bad("name: x\ntype: stress.fds\nduration: 1m\ntarget: {interface: eth0}\n"
		  "params: {count: 1}\n",
		  "request:4:9: target: stress.fds faults take no target\n");
	parse_bad("name: x\ntype: network.partition\nduration: 1m\n"
		  "target: {interface: eth0, cidrs: [192.0.2.0/24]}\nparams: {delay: 1ms}\n",
		  "request:5:9: params: network.partition takes no params\n");
	parse_bad("name: x\ntype: process.kill\ntarget: {count: 1, percent: 5%, all: false}\n",
		  "request:3:9: target: needs at least one of pid, name, cmdline, exe, cgroup, "
		  "user or container to select processes\n"
		  "request:3:29: target.percent: 'count' and 'percent' cannot be combined; give "
		  "one of count, percent or all\n"
		  "request:3:38: target.all: 'count' and 'all' cannot be combined; give one of "
		  "count, percent or all\n"
		  "request:3:38: target.all: all: false selects nothing; remove it, or use count "
		  "or percent\n");
	parse_bad("name: x\ntype: network.latency\nduration: 1m\n"
		  "target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
		  "params: {delay: 100ms, jitter: 200ms, distribution: normal}\n",
		  "request:5:32: params.jitter: jitter 200ms is larger than delay 100ms\n");
	parse_bad("name: x\ntype: network.latency\nduration: 1m\n"
		  "target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
		  "params: {delay: 100ms, correlation: 5%, distribution: normal}\n",
		  "request:5:37: params.correlation: correlation needs jitter\n"
		  "request:5:55: params.distribution: a distribution needs jitter\n");
	parse_bad("name: x\ntype: network.loss\nduration: 1m\n"
		  "target: {interface: eth0, cidrs: [192.0.2.0/24]}\n"
		  "params: {probability: 1%, r: 5%, 1-k: 1%}\n",
		  "request:5:30: params.r: only applies to model gilbert-elliott\n"
		  "request:5:39: params.1-k: only applies to model gilbert-elliott\n");
	parse_bad("name: x\ntype: stress.memory\nduration: 1m\nparams: {size: 1GiB, ramp: 1m}\n",
		  "request:4:28: params.ramp: ramp 1m is not shorter than the fault's duration "
		  "1m\n");
	parse_bad("name: x\ntype: stress.cpu\nduration: 1m\nparams: {cpus: \"0-3,2000\"}\n",
		  "request:4:16: params.cpus: CPU 2000 is out of range (0 to 1023)\n");
	parse_bad("name: x\ntype: stress.disk_fill\nduration: 1m\n"
		  "params: {path: var/tmp/x, size: 10%}\n",
		  "request:4:16: params.path: 'var/tmp/x' is not an absolute path\n");
	parse_bad("name: x\ntype: stress.io\nduration: 1m\n"
		  "params: {path: /srv/../etc/x, rate: 50MiB}\n",
		  "request:4:16: params.path: path '/srv/../etc/x' must not contain '..'\n"
		  "request:4:37: params.rate: byte rate '50MiB' needs '/s', as in '50MiB/s'\n");
	/* Control characters would hide text from reviewers, NEL even reads as a line break. */
	parse_bad("name: x\ntype: stress.disk_fill\nduration: 1m\n"
		  "params: {path: \"/tmp/\\x85a\", size: 1GiB}\n",
		  "request:4:16: params.path: text contains control characters\n");
	parse_bad("name: x\ntype: process.pause\nduration: 1m\n"
		  "target: {cmdline: \"a\\x7f\", all: true}\n",
		  "request:4:19: target.cmdline: text contains control characters\n");
	/* glibc's "{,m}" repeats too; stacked bounds multiply. */
	parse_bad("name: x\ntype: process.pause\nduration: 1m\n"
		  "target: {cmdline: \"a{,4000}{,4000}\", all: true}\n",
		  "request:4:19: target.cmdline: regular expression 'a{,4000}{,4000}' is too "
		  "complex (its repetitions expand to more than 4096 elements)\n");
	parse_bad("- a\n", "request:1:1: expected a mapping, got a list\n");
	parse_bad("{", "request:2:1: did not find expected node content (while parsing a flow node "
		       "at line 2, column 1)\n");
}

static void test_type_table(void **state)
{
	int t;

	for (int i = 0; i < FAULT_TYPE_COUNT; i++) {
		assert_int_equal(exp_fault_type_lookup(exp_fault_type_name(i), &t), 0);
		assert_int_equal(t, i);
	}
	assert_int_equal(exp_fault_type_lookup("network.nope", &t), -ENOENT);
	assert_string_equal(exp_fault_type_name(-1), "?");
	assert_int_equal(exp_fault_target_kind(FAULT_NET_LOSS), FAULT_TARGET_NET);
	assert_int_equal(exp_fault_target_kind(FAULT_PROC_PAUSE), FAULT_TARGET_PROC);
	assert_int_equal(exp_fault_target_kind(FAULT_STRESS_IO), FAULT_TARGET_STRESS);
	assert_int_equal(exp_fault_target_kind(FAULT_STRESS_FDS), FAULT_TARGET_NONE);
}

static void test_equal_sees_differences(void **state)
{
	struct fault_spec *a = parse_ok("{name: a, type: stress.cpu, duration: 1m}");
	struct fault_spec *b =
		parse_ok("{name: a, type: stress.cpu, duration: 1m, params: {load: 99%}}");
	struct fault_spec *c = parse_ok("{name: a, type: stress.cpu, duration: 1m}");

	assert_false(exp_fault_equal(a, b));
	assert_true(exp_fault_equal(a, c));
	exp_fault_free(a);
	exp_fault_free(b);
	exp_fault_free(c);
	exp_fault_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latency_yaml),
		cmocka_unit_test(test_every_type_round_trips),
		cmocka_unit_test(test_defaults_written_out),
		cmocka_unit_test(test_container_targets),
		cmocka_unit_test(test_container_in_plan),
		cmocka_unit_test(test_plan_follows_restarts),
		cmocka_unit_test(test_net_container_seed),
		cmocka_unit_test(test_stress_container_target),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_fault_errors),
		cmocka_unit_test(test_type_table),
		cmocka_unit_test(test_equal_sees_differences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
