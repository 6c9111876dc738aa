/* Unit tests for lib/policy.c: loading with positioned errors, and every policy rule. */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helpers.h"
#include "policy.h"

static struct policy *load_ok(const char *text)
{
	struct diag_list dl;
	struct policy *p = NULL;

	assert_int_equal(diag_init(&dl, "policy.yaml"), 0);
	th_assert_clean(policy_load_buf(text, strlen(text), &p, &dl), &dl);
	return p;
}

/* Load text expecting errors; returns them printed, one per line. */
static char *load_bad(const char *text)
{
	struct diag_list dl;
	struct policy *p = NULL;
	char *out;

	assert_int_equal(diag_init(&dl, "policy.yaml"), 0);
	assert_int_equal(policy_load_buf(text, strlen(text), &p, &dl), -EINVAL);
	assert_null(p);
	out = th_render(&dl);
	diag_clear(&dl);
	return out;
}

static struct fault_spec *fault(const char *text)
{
	struct diag_list dl;
	struct fault_spec *f = NULL;

	assert_int_equal(diag_init(&dl, "fault"), 0);
	th_assert_clean(exp_fault_parse(text, strlen(text), &f, &dl), &dl);
	return f;
}

static void check(const struct policy *p, const char *fault_text, int want, const char *msg)
{
	struct fault_spec *f = fault(fault_text);
	char err[256] = "";

	assert_int_equal(policy_check(p, f, err, sizeof(err)), want);
	if (msg)
		assert_string_equal(err, msg);
	exp_fault_free(f);
}

static const char *loss20 = "{name: l, type: network.loss, duration: 30s, "
			    "target: {interface: eth0, cidrs: [192.0.2.0/24]}, "
			    "params: {probability: 20%}}";

static void errors_positioned(void **state)
{
	char *out = load_bad("max_loss: 150%\n"
			     "allow_type: [network.loss]\n"
			     "allow_types: [network.los]\n"
			     "protected_cidrs: [10.0.0.0/33]\n");

	assert_string_equal(
		out,
		"policy.yaml:1:11: max_loss: 150% is out of range (more than 0%, at most 100%)\n"
		"policy.yaml:2:1: allow_type: unknown key; did you mean 'allow_types'?\n"
		"policy.yaml:3:15: allow_types[0]: unknown fault type 'network.los'; did you mean "
		"'network.loss'?\n"
		"policy.yaml:4:19: protected_cidrs[0]: invalid CIDR '10.0.0.0/33': the prefix "
		"length must be 0 to 32\n");
	free(out);
}

static void default_allows_everything(void **state)
{
	struct policy *p;

	assert_int_equal(policy_default(&p), 0);
	check(p, loss20, 0, NULL);
	policy_free(p);
}

static void rules(void **state)
{
	struct policy *p = load_ok("allow_types: [network.loss, network.partition, process.pause]\n"
				   "max_loss: 10%\n"
				   "max_duration: 5m\n"
				   "protected_processes: [postgres]\n"
				   "protected_cidrs: [192.0.2.128/25]\n"
				   "protected_ports: [22, 8000-8100]\n");

	check(p, loss20, -EPERM, "policy: loss of 20% exceeds max_loss 10%");
	check(p,
	      "{name: l, type: network.loss, duration: 30s, target: {interface: eth0, "
	      "cidrs: [198.51.100.0/24]}, params: {probability: 5%}}",
	      0, NULL);
	check(p,
	      "{name: l, type: network.loss, duration: 10m, target: {interface: eth0, "
	      "cidrs: [198.51.100.0/24]}, params: {probability: 5%}}",
	      -EPERM, "policy: duration 600000 ms exceeds max_duration 300000 ms");
	check(p,
	      "{name: p, type: network.partition, duration: 1m, target: {interface: eth0, "
	      "cidrs: [198.51.100.0/24]}}",
	      -EPERM, "policy: a partition's loss of 100% exceeds max_loss 10%");
	check(p,
	      "{name: c, type: network.corruption, duration: 1m, target: {interface: eth0, "
	      "cidrs: [198.51.100.0/24]}, params: {probability: 1%}}",
	      -EPERM, "policy: fault type network.corruption is not in allow_types");
	check(p,
	      "{name: l, type: network.loss, duration: 30s, target: {interface: eth0, "
	      "cidrs: [192.0.2.0/24]}, params: {probability: 1%}}",
	      -EPERM, "policy: target.cidrs[0] overlaps protected_cidrs[0]");
	check(p,
	      "{name: l, type: network.loss, duration: 30s, target: {interface: eth0, "
	      "cidrs: [198.51.100.0/24], ports: [8080]}, params: {probability: 1%}}",
	      -EPERM, "policy: the fault's ports include protected port 8080");
	check(p,
	      "{name: s, type: process.pause, duration: 30s, target: {name: postgres, all: true}}",
	      -EPERM, "policy: process 'postgres' is protected");
	check(p, "{name: s, type: process.pause, duration: 30s, target: {name: redis, all: true}}",
	      0, NULL);
	policy_free(p);
}

/* max_duration asks every fault for a duration, except one that acts once (exp_fault_once). */
static void max_duration_and_one_shot_kill(void **state)
{
	struct policy *p = load_ok("max_duration: 5m\n");

	check(p, "{name: k, type: process.kill, target: {pid: 4242, all: true}}", 0, NULL);
	check(p,
	      "{name: k, type: process.kill, duration: 10m, target: {pid: 4242, all: true}, "
	      "params: {interval: 1s}}",
	      -EPERM, "policy: duration 600000 ms exceeds max_duration 300000 ms");
	check(p,
	      "{name: k, type: process.kill, duration: 1m, target: {pid: 4242, all: true}, "
	      "params: {interval: 1s}}",
	      0, NULL);
	policy_free(p);
}

static void gilbert_elliott_loss_ratio(void **state)
{
	struct policy *p = load_ok("max_loss: 15%\n");

	/* Stationary loss (1-k)*r/(p+r) + (1-h)*p/(p+r) = 0.05/0.35 = 14.3%: allowed. */
	check(p,
	      "{name: g, type: network.loss, duration: 1m, target: {interface: eth0, "
	      "cidrs: [198.51.100.0/24]}, params: {model: gilbert-elliott, p: 5%, r: 30%, "
	      "1-h: 100%, 1-k: 0%}}",
	      0, NULL);
	/* With r 20%: 0.05/0.25 = 20%: refused. */
	check(p,
	      "{name: g, type: network.loss, duration: 1m, target: {interface: eth0, "
	      "cidrs: [198.51.100.0/24]}, params: {model: gilbert-elliott, p: 5%, r: 20%, "
	      "1-h: 100%, 1-k: 0%}}",
	      -EPERM, "policy: loss of 20% exceeds max_loss 15%");
	policy_free(p);
}

static void min_free_memory(void **state)
{
	struct policy *p;
	char *out;

	/* No policy file, or a file without the key: the built-in 10% floor. */
	assert_int_equal(policy_default(&p), 0);
	assert_int_equal(policy_min_free_bytes(p, 8ULL << 30), (8ULL << 30) / 10);
	policy_free(p);
	p = load_ok("max_loss: 10%\n");
	assert_int_equal(policy_min_free_bytes(p, 1000000), 100000);
	policy_free(p);
	p = load_ok("min_free_memory: 512MiB\n");
	assert_int_equal(policy_min_free_bytes(p, 8ULL << 30), 512ULL << 20);
	policy_free(p);
	p = load_ok("min_free_memory: 25%\n");
	assert_int_equal(policy_min_free_bytes(p, 8ULL << 30), 2ULL << 30);
	/* 64 TiB at 25% overflows 64-bit intermediate arithmetic. */
	assert_int_equal(policy_min_free_bytes(p, 64ULL << 40), 16ULL << 40);
	policy_free(p);
	out = load_bad("min_free_memory: 101%\n");
	assert_string_equal(out, "policy.yaml:1:18: min_free_memory: 101% is out of range (more "
				 "than 0%, at most 100%)\n");
	free(out);
	out = load_bad("min_free_memory: 12kB\n");
	assert_non_null(strstr(out, "min_free_memory"));
	free(out);
}

static void blast_radius_caps(void **state)
{
	struct policy *p;
	cpu_set_t set;
	char *out;

	/* Built in: 16 processes; 4 workers per CPU the agent may run on. */
	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	assert_int_equal(policy_default(&p), 0);
	assert_int_equal(p->max_processes_per_fault, 16);
	assert_int_equal(p->max_cpu_workers, 4 * CPU_COUNT(&set));
	policy_free(p);
	/* A file without the keys keeps the built-in caps. */
	p = load_ok("max_loss: 10%\n");
	assert_int_equal(p->max_processes_per_fault, 16);
	assert_int_equal(p->max_cpu_workers, 4 * CPU_COUNT(&set));
	policy_free(p);
	/* The file may raise or lower either. */
	p = load_ok("max_processes_per_fault: 200\nmax_cpu_workers: 2\n");
	assert_int_equal(p->max_processes_per_fault, 200);
	assert_int_equal(p->max_cpu_workers, 2);
	policy_free(p);
	p = load_ok("max_processes_per_fault: 1\n");
	assert_int_equal(p->max_processes_per_fault, 1);
	policy_free(p);
	out = load_bad("max_processes_per_fault: 0\n"
		       "max_cpu_workers: 5000\n"
		       "max_processes_per_faults: 3\n");
	assert_string_equal(out,
			    "policy.yaml:1:26: max_processes_per_fault: 0 is out of range (1 to 100000)\n"
			    "policy.yaml:2:18: max_cpu_workers: 5000 is out of range (1 to 4096)\n"
			    "policy.yaml:3:1: max_processes_per_faults: unknown key; did you mean "
			    "'max_processes_per_fault'?\n");
	free(out);
	out = load_bad("max_processes_per_fault: many\n");
	assert_non_null(strstr(out, "policy.yaml:1:26: max_processes_per_fault: "));
	free(out);
}

/* protected_containers: names (exact or glob) and label selectors, matched as the agent does. */
static void protected_containers(void **state)
{
	struct policy *p = load_ok("protected_containers:\n"
				   "  - name: postgres\n"
				   "  - name: 'prod-*-db'\n"
				   "  - label: tier=db\n"
				   "  - label: io.faultline.protect\n"
				   "max_containers_per_fault: 3\n");
	json_t *db = json_pack("{s:s}", "tier", "db"), *web = json_pack("{s:s}", "tier", "web"),
	       *flag = json_pack("{s:s}", "io.faultline.protect", "");
	char why[128] = "";

	assert_int_equal(p->n_protected_containers, 4);
	assert_int_equal(p->max_containers_per_fault, 3);
	assert_true(policy_container_protected(p, "postgres", NULL, why, sizeof(why)));
	assert_string_equal(why, "protected_containers[0] (name 'postgres')");
	/* Exact names are exact: no prefix or suffix match. */
	assert_false(policy_container_protected(p, "postgres-1", NULL, why, sizeof(why)));
	assert_false(policy_container_protected(p, "my-postgres", web, why, sizeof(why)));
	assert_true(policy_container_protected(p, "prod-eu-db", NULL, why, sizeof(why)));
	assert_string_equal(why, "protected_containers[1] (name 'prod-*-db')");
	assert_false(policy_container_protected(p, "prod-eu-db-2", NULL, why, sizeof(why)));
	assert_true(policy_container_protected(p, "shop-db-1", db, why, sizeof(why)));
	assert_string_equal(why, "protected_containers[2] (label tier=db)");
	assert_false(policy_container_protected(p, "shop-web-1", web, why, sizeof(why)));
	/* A key alone matches whatever the value, the empty one included. */
	assert_true(policy_container_protected(p, "", flag, why, sizeof(why)));
	assert_string_equal(why, "protected_containers[3] (label io.faultline.protect)");
	assert_false(policy_container_protected(p, NULL, NULL, why, sizeof(why)));
	policy_free(p);
	json_decref(db);
	json_decref(web);
	json_decref(flag);

	/* Without the keys: nothing protected by name, ten containers per fault. */
	assert_int_equal(policy_default(&p), 0);
	assert_int_equal(p->n_protected_containers, 0);
	assert_int_equal(p->max_containers_per_fault, 10);
	assert_false(policy_container_protected(p, "postgres", NULL, why, sizeof(why)));
	policy_free(p);
}

static void protected_containers_errors(void **state)
{
	char *out = load_bad("protected_containers:\n"
			     "  - postgres\n"
			     "  - {name: web, label: tier=db}\n"
			     "  - {}\n"
			     "  - name: 'db[12]'\n"
			     "  - label: 'tier='\n"
			     "  - label: '=db'\n"
			     "  - label: 'my tier=db'\n"
			     "  - nmae: web\n"
			     "max_containers_per_fault: 0\n");

	assert_string_equal(
		out,
		"policy.yaml:2:5: protected_containers[0]: expected a mapping, got a string\n"
		"policy.yaml:3:24: protected_containers[1].label: 'name' and 'label' cannot be "
		"combined; one key per entry\n"
		"policy.yaml:4:5: protected_containers[2]: needs 'name' (a container name or a "
		"glob such as 'db-*') or 'label' ('key' or 'key=value')\n"
		"policy.yaml:5:11: protected_containers[3].name: '[' at offset 2: a container name "
		"has letters, digits, '_', '.' and '-', and a pattern '*' and '?' besides\n"
		"policy.yaml:6:12: protected_containers[4].label: the value after '=' is empty; "
		"write 'tier' for the label with any value\n"
		"policy.yaml:7:12: protected_containers[5].label: the label key is empty; write "
		"'key' or 'key=value'\n"
		"policy.yaml:8:12: protected_containers[6].label: ' ' at offset 2: a label key has "
		"letters, digits, '_', '.', '-' and '/' (write 'key' or 'key=value')\n"
		"policy.yaml:9:5: protected_containers[7].nmae: unknown key; did you mean 'name'?\n"
		"policy.yaml:10:27: max_containers_per_fault: 0 is out of range (1 to 10000)\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(errors_positioned),
		cmocka_unit_test(default_allows_everything),
		cmocka_unit_test(rules),
		cmocka_unit_test(max_duration_and_one_shot_kill),
		cmocka_unit_test(gilbert_elliott_loss_ratio),
		cmocka_unit_test(min_free_memory),
		cmocka_unit_test(blast_radius_caps),
		cmocka_unit_test(protected_containers),
		cmocka_unit_test(protected_containers_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
