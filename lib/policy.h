/*
 * Agent-side policy (/etc/faultline/policy.yaml): limits the agent enforces whatever the
 * controller asks. Loaded with the experiment loader's rules and diagnostics.
 */
#ifndef FL_POLICY_H
#define FL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "exp.h"

#define POLICY_DEFAULT_PATH "/etc/faultline/policy.yaml"

/*
 * One entry of protected_containers: exactly one of name (a container name, exact or a glob
 * with '*' and '?') and label ("key": the label is set; "key=value": set to that value).
 */
struct policy_container_rule {
	char *name;
	char *label;
};

struct policy {
	char **allow_types; /* fault type names; none: every type */
	size_t n_allow_types;
	uint32_t max_loss_ppm;	   /* loss, partition counts as 100%; 0: no limit */
	int64_t max_latency_ns;	   /* delay + jitter; 0: no limit */
	int64_t max_duration_ns;   /* 0: no limit; with a limit, a fault must have a duration */
	struct units_size max_memory; /* stress.memory; zero: no limit */
	/* Free memory stress.memory never eats into; zero: POLICY_DEFAULT_MIN_FREE_PPM. */
	struct units_size min_free_memory;
	char **protected_processes;   /* process names never selected, besides the built-in ones */
	size_t n_protected_processes;
	struct net_cidr *protected_cidrs; /* network faults never touch these peers */
	size_t n_protected_cidrs;
	struct port_range *protected_ports; /* nor these ports (either side) */
	size_t n_protected_ports;
	uint32_t max_processes_per_fault; /* processes one process fault may hit (each round) */
	uint32_t max_cpu_workers;	  /* stress.cpu workers; not in the file: 4 x usable CPUs */
	struct policy_container_rule *protected_containers; /* never targeted */
	size_t n_protected_containers;
	uint32_t max_containers_per_fault; /* containers one fault's target may name */
};

/* How many processes one process fault may hit unless the policy file says otherwise. */
#define POLICY_DEFAULT_MAX_PROCESSES 16u
/*
 * How many containers one fault may act in unless the policy file says otherwise: a scaled
 * compose service of a few replicas, not every container of a host.
 */
#define POLICY_DEFAULT_MAX_CONTAINERS 10u
/* stress.cpu workers per CPU the agent may run on, unless the policy file says otherwise. */
#define POLICY_DEFAULT_CPU_WORKERS_PER_CPU 4u

/*
 * Memory stressors stop growing before available memory falls below this share of the
 * total unless the policy says otherwise: enough for the host's own services, sshd and
 * the agent to keep working, and for the kernel to reclaim without stalling.
 */
#define POLICY_DEFAULT_MIN_FREE_PPM 100000u /* 10% */

/* The built-in policy when no file exists: every type, no limits, built-in protections. */
int policy_default(struct policy **out);

/* Load and validate a policy file; problems go to diags. 0, -EINVAL, -ENOENT, -errno. */
int policy_load_file(const char *path, struct policy **out, struct diag_list *diags);
int policy_load_buf(const char *buf, size_t len, struct policy **out, struct diag_list *diags);
void policy_free(struct policy *p);

/*
 * Check one fault against the policy. 0 when allowed; -EPERM with err naming the rule and
 * the values when not.
 */
int policy_check(const struct policy *p, const struct fault_spec *f, char *err, size_t size);

/*
 * The default max_cpu_workers: POLICY_DEFAULT_CPU_WORKERS_PER_CPU times the CPUs in the
 * calling thread's affinity mask (sched_getaffinity), at least one CPU.
 */
uint32_t policy_default_cpu_workers(void);

/*
 * Whether protected_containers protects the container named name (NULL or "": no name known)
 * with labels (a JSON object of strings; NULL: none known). When it does, why says which
 * rule: "protected_containers[1] (label tier=db)". Pure: no system calls.
 */
bool policy_container_protected(const struct policy *p, const char *name, const json_t *labels,
				char *why, size_t size);

/* The memory floor in bytes on a host with total_bytes of memory (the default if not set). */
uint64_t policy_min_free_bytes(const struct policy *p, uint64_t total_bytes);

/* The policy as JSON for `agent info`. 0 or -ENOMEM. */
int policy_to_json(const struct policy *p, json_t **out);

#endif
