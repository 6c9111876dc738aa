/* Experiment model: what an experiment file says, typed, validated and free of units text. */
#ifndef FL_EXP_H
#define FL_EXP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "diag.h"
#include "units.h"

/*
 * Limits that keep loading bounded whatever the input. The format reference
 * (docs/experiment-format.md) lists them; keep the two in step.
 */
#ifndef EXP_MAX_DOC_SIZE
#define EXP_MAX_DOC_SIZE (1u << 20) /* bytes of one experiment file */
#endif
#define EXP_MAX_DEPTH 32     /* nesting of mappings and lists */
#define EXP_MAX_NODES 200000 /* scalars, mappings and lists in one document */
#define EXP_MAX_MAP_KEYS 256 /* keys in one mapping */
#define EXP_MAX_LIST 10000   /* items in one list */
#define EXP_MAX_SCALAR 65536 /* bytes of one scalar */
#define EXP_MAX_FAULTS 1024  /* one per agent of the largest fleet: a process target is per host */
#define EXP_MAX_AGENTS 1024
#define EXP_MAX_PROBES 64   /* guardrails; steady-state checks per phase */
#define EXP_MAX_CIDRS 10000 /* per fault */
#define EXP_MAX_PORTS 1024  /* port entries per list */
#define EXP_MAX_CPUS 1024
#define EXP_MAX_NAME 63 /* experiment, agent, fault, guardrail and check names */
#define EXP_FORMAT_VERSION 1

/* Sentinels: in every struct below, 0 / NULL / an empty list means "not given". */

/* How a guardrail or check reacts when its probe cannot be evaluated (not on a breach). */
enum exp_on_error {
	EXP_ON_ERROR_ABORT,
	EXP_ON_ERROR_WARN,
	EXP_ON_ERROR_IGNORE,
};

/* Network faults. */

enum net_direction {
	NET_DIR_EGRESS,
	NET_DIR_INGRESS,
	NET_DIR_BOTH,
};

enum net_protocol {
	NET_PROTO_ANY,
	NET_PROTO_TCP,
	NET_PROTO_UDP,
	NET_PROTO_ICMP,
};

struct net_cidr {
	uint8_t family;	  /* AF_INET or AF_INET6 */
	uint8_t prefix;	  /* 0..32 or 0..128 */
	uint8_t addr[16]; /* network order; host bits are always zero */
};

struct port_range {
	uint16_t lo, hi; /* inclusive; lo == hi for a single port */
};

struct container_ref;

/*
 * Which packets a network fault touches. Addresses and ports are the peer's. With netns_path,
 * netns_pid or container, the interface is one inside that network namespace (NULL: the one
 * holding its default route); with none of them, one in the agent's namespace (required).
 */
struct net_target {
	char *interface;
	char *netns_path;		 /* netns: a namespace file such as /run/netns/NAME */
	uint32_t netns_pid;		 /* netns: {pid: N}: the namespace of that process */
	struct container_ref *container; /* the namespace of each selected container's main pid */
	int direction;			 /* enum net_direction */
	/* With container: at most one of these selects among several matching containers. */
	uint32_t count;
	uint32_t percent_ppm;
	bool all;
	/* With container and count or percent: the seed of the choice (lib/pick.h); 0: random. */
	uint64_t seed;
	struct net_cidr *cidrs;
	size_t n_cidrs;
	struct port_range *ports; /* peer ports; none: every port */
	size_t n_ports;
	struct port_range *local_ports; /* ports on the agent's side; none: every port */
	size_t n_local_ports;
	int protocol; /* enum net_protocol */
};

/* The runtime a container target names; auto: whichever one runs a container that matches. */
enum container_runtime {
	CONTAINER_RUNTIME_AUTO,
	CONTAINER_RUNTIME_DOCKER,
	CONTAINER_RUNTIME_PODMAN,
	CONTAINER_RUNTIME_CONTAINERD,
	CONTAINER_RUNTIME_CRIO,
};

/* The labels Docker Compose sets on a service's containers. */
struct container_compose {
	char *project; /* com.docker.compose.project */
	char *service; /* com.docker.compose.service */
};

/* Which container a target lies in: exactly one of id, name and compose is set. */
struct container_ref {
	char *id;   /* lower-case hex, 12 to 64 digits: the full id or a unique prefix */
	char *name; /* the container's name, without the API's leading '/' */
	struct container_compose *compose;
	int runtime; /* enum container_runtime */
	/*
	 * A network fault only: when the container exits during the fault, wait for one under
	 * the same id, name or compose service and apply the fault to it again, while the
	 * fault's window lasts (docs/containers.md).
	 */
	bool follow_restarts;
};

/* Which processes a process fault touches: every given criterion must match. */
struct proc_target {
	uint32_t pid;
	char *name;    /* exact comm, at most 15 characters */
	char *cmdline; /* POSIX extended regex over the space-joined command line */
	char *exe;     /* absolute path of the executable */
	char *cgroup;  /* cgroup v2 path, absolute from the cgroup root */
	char *user;    /* user name, or a numeric uid as text */
	struct container_ref *container; /* only processes of this container; NULL: any */
	/* Exactly one of count, percent_ppm, all says how many of the matches to hit. */
	uint32_t count;
	uint32_t percent_ppm;
	bool all;
	uint64_t seed; /* picks the same processes on every run; 0: random */
};

enum netem_dist {
	NETEM_DIST_NONE, /* not given: netem's own (uniform) */
	NETEM_DIST_UNIFORM,
	NETEM_DIST_NORMAL,
	NETEM_DIST_PARETO,
	NETEM_DIST_PARETONORMAL,
};

enum loss_model {
	LOSS_RANDOM,
	LOSS_GILBERT_ELLIOTT,
};

enum pause_method {
	PAUSE_SIGSTOP,
	PAUSE_FREEZER,
};

/* How the agent delays egress packets (ingress always goes through netem on an IFB device). */
enum latency_mechanism {
	LATENCY_MECH_AUTO, /* not given: EDT when the kernel has sch_fq, else netem */
	LATENCY_MECH_EDT,  /* the eBPF data path stamps departure times, sch_fq holds packets */
	LATENCY_MECH_NETEM,
};

struct fault_net_latency {
	int64_t delay_ns;
	int64_t jitter_ns;
	uint32_t correlation_ppm;
	int distribution; /* enum netem_dist */
	int mechanism;	  /* enum latency_mechanism */
};

struct fault_net_loss {
	int model;		  /* enum loss_model */
	uint32_t probability_ppm; /* random */
	uint32_t correlation_ppm; /* random */
	uint32_t p_ppm;		  /* gilbert-elliott: good to bad */
	uint32_t r_ppm;		  /* gilbert-elliott: bad to good */
	uint32_t one_minus_h_ppm; /* gilbert-elliott: loss in the bad state */
	uint32_t one_minus_k_ppm; /* gilbert-elliott: loss in the good state */
};

/* What network.dns does with a query whose name matches. */
enum dns_action {
	DNS_ACTION_NXDOMAIN, /* answered: the name does not exist */
	DNS_ACTION_SERVFAIL, /* answered: the server failed */
	DNS_ACTION_REFUSED,  /* answered: the server refuses */
	DNS_ACTION_DROP,     /* dropped: the client times out */
	DNS_ACTION_SPOOF,    /* answered: NOERROR with the forged a/aaaa records */
};

/* Query types network.dns can select (lib/dnsname.c has their numbers). */
enum dns_qtype {
	DNS_QTYPE_A,
	DNS_QTYPE_NS,
	DNS_QTYPE_CNAME,
	DNS_QTYPE_SOA,
	DNS_QTYPE_PTR,
	DNS_QTYPE_MX,
	DNS_QTYPE_TXT,
	DNS_QTYPE_AAAA,
	DNS_QTYPE_SRV,
	DNS_QTYPE_NAPTR,
	DNS_QTYPE_DS,
	DNS_QTYPE_DNSKEY,
	DNS_QTYPE_SVCB,
	DNS_QTYPE_HTTPS,
	DNS_QTYPE_ANY,
	DNS_QTYPE_CAA,
	DNS_QTYPE_COUNT,
};

#define EXP_MAX_DNS_NAMES 256
#define EXP_MAX_DNS_SPOOF 8    /* addresses of each family in a spoofed answer */
#define EXP_MAX_DNS_TTL 604800 /* a spoofed answer's TTL, seconds (one week) */
#define EXP_DNS_TTL_DEFAULT 60

struct fault_net_dns {
	char **names; /* patterns: "db.internal." or "*.example.com" (lib/dnsname.h) */
	size_t n_names;
	int *qtypes; /* enum dns_qtype; none: every type */
	size_t n_qtypes;
	int action; /* enum dns_action */
	uint32_t probability_ppm;
	/* spoof: the answer's addresses (full-length CIDRs: AF_INET in a, AF_INET6 in aaaa) */
	struct net_cidr *a;
	size_t n_a;
	struct net_cidr *aaaa;
	size_t n_aaaa;
	uint32_t ttl; /* spoof: seconds, 1..EXP_MAX_DNS_TTL; 0 with other actions */
};

/* Corruption and duplication: a probability, optionally correlated. */
struct fault_net_prob {
	uint32_t probability_ppm;
	uint32_t correlation_ppm;
};

struct fault_net_bandwidth {
	uint64_t rate_bps;
	uint64_t burst_bytes; /* 0: the agent's default */
	uint64_t limit_bytes; /* 0: the agent's default */
};

struct fault_proc_kill {
	int signal;
	int64_t interval_ns; /* 0: once */
};

struct fault_proc_pause {
	int method; /* enum pause_method */
};

struct exp_cpuset {
	uint64_t bits[EXP_MAX_CPUS / 64]; /* all zero: no pinning */
};

/* Where a stressor's workers run: the agent's host, or inside one container's cgroups. */
struct stress_target {
	struct container_ref *container;
};

struct fault_stress_cpu {
	uint32_t workers;
	uint32_t load_ppm;
	struct exp_cpuset cpus;
};

struct fault_stress_memory {
	struct units_size size; /* ppm: share of total memory */
	int64_t ramp_ns;
};

struct fault_stress_disk_fill {
	char *path;
	struct units_size size; /* ppm: share of the filesystem's size */
};

struct fault_stress_io {
	char *path;
	uint64_t rate_bytes; /* per second */
	bool fsync;
};

struct fault_stress_fds {
	uint32_t count;
};

/*
 * Adding a fault type: a value here, a params struct, one row in lib/exp_fault.c and one in
 * agent/fault_types.c; docs/adding-a-fault-type.md lists every file.
 */
enum fault_type {
	FAULT_NET_LATENCY,
	FAULT_NET_LOSS,
	FAULT_NET_CORRUPTION,
	FAULT_NET_DUPLICATION,
	FAULT_NET_PARTITION,
	FAULT_NET_BANDWIDTH,
	FAULT_NET_DNS,
	FAULT_PROC_KILL,
	FAULT_PROC_PAUSE,
	FAULT_STRESS_CPU,
	FAULT_STRESS_MEMORY,
	FAULT_STRESS_DISK_FILL,
	FAULT_STRESS_IO,
	FAULT_STRESS_FDS,
	FAULT_TYPE_COUNT,
};

/* What a fault's target is, fixed by its type. */
enum fault_target_kind {
	FAULT_TARGET_NONE, /* stressors act on the agent's host */
	FAULT_TARGET_NET,
	FAULT_TARGET_PROC,
	FAULT_TARGET_STRESS, /* stressors that may run inside a container: an optional target */
};

struct fault_spec {
	char *name;
	int type;      /* enum fault_type */
	char **agents; /* agent or group names; none: every agent of the experiment */
	size_t n_agents;
	int64_t start_ns;    /* offset from the start of the run */
	int64_t duration_ns; /* 0: instantaneous (a process.kill without interval) */
	union {
		struct net_target net;
		struct proc_target proc;
		struct stress_target stress;
	} target;
	union {
		struct fault_net_latency latency;
		struct fault_net_loss loss;
		struct fault_net_prob corruption;
		struct fault_net_prob duplication;
		struct fault_net_bandwidth bandwidth;
		struct fault_net_dns dns;
		struct fault_proc_kill kill;
		struct fault_proc_pause pause;
		struct fault_stress_cpu cpu;
		struct fault_stress_memory memory;
		struct fault_stress_disk_fill disk_fill;
		struct fault_stress_io io;
		struct fault_stress_fds fds;
	} params;
};

/* Probes: used by guardrails (during the run) and steady-state checks (before, after). */

enum probe_kind {
	PROBE_NONE,
	PROBE_HTTP,
	PROBE_PROMETHEUS,
	PROBE_COMMAND,
	PROBE_BURN_RATE,
};

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_DELETE,
	HTTP_PATCH,
	HTTP_OPTIONS,
};

enum cmp_op {
	CMP_LT,
	CMP_LE,
	CMP_GT,
	CMP_GE,
	CMP_EQ,
	CMP_NE,
};

struct status_range {
	uint16_t lo, hi; /* inclusive HTTP status codes */
};

struct latency_limits {
	int64_t p50_ns, p95_ns, p99_ns; /* 0: no limit */
};

/*
 * How an https:// URL is verified. Default: libcurl's system CA bundle, peer and host name
 * checked. Given only with an https:// URL; ca_file and insecure_skip_verify exclude each other.
 */
struct probe_tls {
	char *ca_file;		   /* PEM bundle trusted instead of the system's; NULL: system */
	bool insecure_skip_verify; /* no certificate or host name check (discouraged) */
};

/* The probe is healthy while success ratio >= min and each given percentile <= its limit. */
struct probe_http {
	char *url;
	struct probe_tls *tls; /* NULL: not given */
	int method;	       /* enum http_method */
	uint64_t rate_pkm;     /* requests per 1000 minutes, see units_parse_req_rate() */
	int64_t timeout_ns;
	struct status_range *expect_status; /* none: 200-299 */
	size_t n_expect_status;
	int64_t window_ns;		    /* sliding window the conditions are computed over */
	uint32_t min_success_ppm;	    /* 0: no condition */
	struct latency_limits *max_latency; /* NULL: no condition */
};

/* Healthy while "result op threshold"; an empty result counts as a probe error. */
struct probe_prometheus {
	char *url;
	struct probe_tls *tls; /* NULL: not given */
	char *query;
	int op; /* enum cmp_op */
	double threshold;
	int64_t interval_ns;
	int64_t timeout_ns;
};

struct probe_command {
	char **argv;
	size_t argc;
	int64_t interval_ns;
	int64_t timeout_ns;
	uint32_t expect_exit;
};

/* Source of an error ratio for a burn rate: plain HTTP requests. */
struct burn_http_source {
	char *url;
	struct probe_tls *tls; /* NULL: not given */
	int method;
	uint64_t rate_pkm;
	int64_t timeout_ns;
	struct status_range *expect_status; /* none: 200-299 */
	size_t n_expect_status;
};

/* Source of an error ratio: a PromQL query in which "$window" stands for the window. */
struct burn_prom_source {
	char *url;
	struct probe_tls *tls; /* NULL: not given */
	char *query;
	int64_t timeout_ns;
};

struct burn_window {
	int64_t window_ns;
	uint64_t max_burn_milli; /* burn rate in thousandths: 14.4x is 14400 */
};

/*
 * Error-budget burn rate. Breached when, in every window, the burn rate (error ratio divided
 * by the error budget, 100% - objective) exceeds that window's max_burn.
 */
struct probe_burn_rate {
	uint32_t objective_ppm;
	struct burn_http_source *http; /* exactly one of http, prometheus */
	struct burn_prom_source *prometheus;
	struct burn_window *windows;
	size_t n_windows;
	int64_t interval_ns;
};

struct exp_probe {
	int kind; /* enum probe_kind */
	union {
		struct probe_http http;
		struct probe_prometheus prometheus;
		struct probe_command command;
		struct probe_burn_rate burn_rate;
	} u;
};

struct exp_guardrail {
	char *name;
	struct exp_probe probe;
	int64_t for_ns; /* how long the probe must be unhealthy before the run aborts */
	int on_error;	/* enum exp_on_error */
};

struct exp_check {
	char *name;
	struct exp_probe probe;
	int on_error; /* enum exp_on_error */
};

struct exp_steady_state {
	struct exp_check *before;
	size_t n_before;
	struct exp_check *after;
	size_t n_after;
	int64_t recovery_timeout_ns; /* how long the after-checks may take to pass */
};

/* An agent given inline (name and address), by name from the inventory, or a group. */
struct exp_agent {
	char *name;
	char *address; /* unix:///path or ssh://[user@]host[:port]; NULL: from the inventory */
	char *group;   /* an inventory group; then name and address are NULL */
};

enum exp_weekday {
	EXP_MON,
	EXP_TUE,
	EXP_WED,
	EXP_THU,
	EXP_FRI,
	EXP_SAT,
	EXP_SUN,
};

/* When a run may start: on these days, between start and end (end < start wraps midnight). */
struct exp_window {
	int *days; /* enum exp_weekday, in the order given, without repeats */
	size_t n_days;
	uint32_t start_min; /* minutes after midnight */
	uint32_t end_min;
	char *timezone; /* IANA name such as "Europe/Berlin"; resolved by the controller */
};

struct exp_safety {
	int64_t lease_ttl_ns;
	int64_t max_duration_ns;
	struct exp_window *window; /* NULL: any time */
	bool dry_run;
	bool protect_control_channel;
};

struct experiment {
	uint32_t version;
	char *name;
	char *description;
	char *hypothesis;
	char *inventory; /* path of an inventory file, relative to the experiment file */
	struct exp_agent *agents;
	size_t n_agents;
	int64_t duration_ns;
	struct fault_spec *faults;
	size_t n_faults;
	struct exp_steady_state steady_state;
	struct exp_guardrail *guardrails;
	size_t n_guardrails;
	struct exp_safety safety;
};

/*
 * Load and validate an experiment from YAML or JSON (JSON is read as YAML flow syntax, so
 * positions are exact for both). Every problem found goes into diags, which the caller has
 * set up with diag_init() and the name to print. Returns 0 with *out set, -EINVAL when the
 * input is invalid (diags say why, *out is NULL), -ENOMEM.
 */
int exp_load_buf(const char *buf, size_t len, struct experiment **out, struct diag_list *diags);

/*
 * Same, from a file; an unreadable file is reported in diags and returns its -errno. A file
 * named *.json must be strict JSON (exp_json_check()) before anything else is checked.
 */
int exp_load_file(const char *path, struct experiment **out, struct diag_list *diags);

/*
 * Strict JSON syntax (RFC 8259): no trailing commas, comments, single quotes or bare words,
 * which the YAML reader would take. The first error goes into diags with its line and
 * column. Returns 0, -EINVAL or -ENOMEM.
 */
int exp_json_check(const char *buf, size_t len, struct diag_list *diags);

/* Whether a file is JSON by its name (*.json, any case), so held to exp_json_check(). */
bool exp_path_is_json(const char *path);

/* Free an experiment and everything it owns. Accepts NULL. */
void exp_free(struct experiment *e);

/*
 * Parse and validate one fault object (YAML or JSON), as the agent API receives it, with the
 * same rules and diagnostics as a fault inside an experiment file. Checks that need the
 * whole experiment (its duration, agents, other faults) are left to the experiment loader.
 * Returns 0 with *out set, -EINVAL with diags, or -ENOMEM. Free *out with exp_fault_free().
 */
int exp_fault_parse(const char *buf, size_t len, struct fault_spec **out, struct diag_list *diags);

/* Free a fault from exp_fault_parse(). Accepts NULL. */
void exp_fault_free(struct fault_spec *f);

/*
 * The fault as a JSON object in the file format, with canonical units text ("1m30s",
 * "0.5%"), defaults written out. exp_fault_parse() of its serialisation gives back an equal
 * fault. Returns 0 with a new reference in *out, or -ENOMEM.
 */
int exp_fault_to_json(const struct fault_spec *f, json_t **out);

/* The whole experiment in the same canonical form. Returns 0 or -ENOMEM. */
int exp_to_json(const struct experiment *e, json_t **out);

/* Compare two faults field by field. Returns true when they are equal. */
bool exp_fault_equal(const struct fault_spec *a, const struct fault_spec *b);

/*
 * Whether two faults, if in force at the same time on the same host, cannot be combined
 * (the rule `faultctl validate` applies within an experiment and the agent applies against
 * its active faults). When they conflict, what says what they both do, for the message.
 */
bool exp_fault_conflicts(const struct fault_spec *a, const struct fault_spec *b, char *what,
			 size_t size);

const char *exp_fault_type_name(int type);

/* "auto", "docker", "podman", "containerd", "cri-o": enum container_runtime's names. */
const char *exp_container_runtime_name(int runtime);
enum fault_target_kind exp_fault_target_kind(int type);

/*
 * Whether the fault acts once and takes no duration (a process.kill without interval), by
 * its type's rule in lib/exp_fault.c.
 */
bool exp_fault_once(const struct fault_spec *f);

/*
 * What faults of the type do that their parameters do not say, for the plan's reader; NULL
 * when the parameters say it all.
 */
const char *exp_fault_effect(int type);

/*
 * Rule slots of an interface's network-fault data path (NETFAULT_MAX_RULES in
 * include/faultline/netfault.h) a network fault takes: one rule per peer-port range x
 * local-port range, per address family for ICMP (ICMP and ICMPv6 are two protocols), and per
 * direction for bandwidth and latency over both directions. 0 for other fault types. The
 * agent counts with these too, so validate, plan and the agent agree.
 */
size_t exp_net_rules_per_direction(const struct net_target *t);
/*
 * Do two network targets name the same interface of the same namespace? (By what the specs
 * say: the agent's registry, keyed by namespace inode and ifindex, decides in the end.)
 */
bool exp_net_same_link(const struct net_target *a, const struct net_target *b);
/* The target's interface name, or "(default-route interface)" when it is left to the agent. */
const char *exp_net_ifname(const struct net_target *t);
/* The container a fault's target names (network, process or stressor target), or NULL. */
const struct container_ref *exp_fault_container(const struct fault_spec *f);

/* Does the target name another network namespace than the agent's (netns or container)? */
static inline bool exp_net_in_netns(const struct net_target *t)
{
	return t->netns_path || t->netns_pid || t->container;
}
size_t exp_fault_rule_slots(const struct fault_spec *f);

/*
 * 0 when the fault fits the rule slots of one interface; else -E2BIG with err saying how
 * many it needs, the factors, and how many there are.
 */
int exp_fault_rule_slots_check(const struct fault_spec *f, char *err, size_t size);

/* Look a fault type up by name. Returns 0 with *type set, or -ENOENT. */
int exp_fault_type_lookup(const char *name, int *type);

/*
 * Dry run: the timeline of what would be applied where and when, the guardrails, the lease
 * and the steady-state checks, as text for people. file is the name shown in the header.
 * Changes nothing and contacts nothing. Returns 0, or -EIO when writing fails.
 */
int exp_plan_render(FILE *f, const struct experiment *e, const char *file);

/* The plan as JSON: {"experiment": ..., "timeline": [...]}. Returns 0 or -ENOMEM. */
int exp_plan_json(const struct experiment *e, json_t **out);

/*
 * Walk the key tables the loader checks input against, for the test that keeps the JSON
 * Schema in step. For every object (named as its "definitions" entry in
 * docs/experiment.schema.json) cb is called once with key NULL, then once per accepted key.
 */
void exp_schema_walk(void (*cb)(const char *object, const char *key, void *arg), void *arg);

#endif
