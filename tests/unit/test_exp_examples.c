/*
 * The example experiments: every file in experiments/ validates, together they cover every
 * fault type, guardrail kind and kind of container target (a network fault's container by
 * name and by compose service, a netns file; a process fault's and a stressor's container),
 * their canonical JSON loads back unchanged, and the plan of one of them matches
 * tests/unit/data/checkout-latency.plan.
 */
#include <dirent.h>
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
#include "exp.h"
#include "helpers.h"

#define MAX_FILES 64

struct examples {
	char *names[MAX_FILES];
	struct experiment *exps[MAX_FILES];
	size_t n;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_examples(void **state)
{
	struct examples *ex = calloc(1, sizeof(*ex));
	struct dirent *de;
	DIR *d;

	if (!ex)
		return -1;
	d = opendir(FL_SOURCE_DIR "/experiments");
	if (!d) {
		free(ex);
		return -1;
	}
	while ((de = readdir(d)) && ex->n < MAX_FILES) {
		size_t len = strlen(de->d_name);

		/* Game-day plans are not experiments; test_gameday.c checks them. */
		if (!strncmp(de->d_name, "gameday-", 8))
			continue;
		if ((len > 5 && !strcmp(de->d_name + len - 5, ".yaml")) ||
		    (len > 5 && !strcmp(de->d_name + len - 5, ".json")))
			ex->names[ex->n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(ex->names, ex->n, sizeof(ex->names[0]), name_cmp);
	*state = ex;
	return 0;
}

static int free_examples(void **state)
{
	struct examples *ex = *state;

	for (size_t i = 0; i < ex->n; i++) {
		free(ex->names[i]);
		exp_free(ex->exps[i]);
	}
	free(ex);
	return 0;
}

static char *read_all(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* Runs first: the other tests use the loaded models. */
static void test_every_example_validates(void **state)
{
	struct examples *ex = *state;
	bool json = false;

	assert_true(ex->n >= 8);
	for (size_t i = 0; i < ex->n; i++) {
		struct diag_list dl;
		char path[1024];

		snprintf(path, sizeof(path), "%s/experiments/%s", FL_SOURCE_DIR, ex->names[i]);
		assert_int_equal(diag_init(&dl, ex->names[i]), 0);
		th_assert_clean(exp_load_file(path, &ex->exps[i], &dl), &dl);
		json |= strstr(ex->names[i], ".json") != NULL;
	}
	assert_true(json);
}

static void test_examples_cover_everything(void **state)
{
	struct examples *ex = *state;
	bool types[FAULT_TYPE_COUNT] = {false};
	bool kinds[PROBE_BURN_RATE + 1] = {false};
	bool burn_http = false, burn_prom = false, ge = false, inventory = false, window = false;
	bool net_name = false, net_compose = false, net_netns = false, proc_ctr = false;
	bool stress_ctr = false, dns_spoof = false, dns_v6 = false;

	for (size_t i = 0; i < ex->n; i++) {
		const struct experiment *e = ex->exps[i];

		assert_non_null(e);
		for (size_t j = 0; j < e->n_faults; j++) {
			const struct fault_spec *f = &e->faults[j];

			types[f->type] = true;
			ge |= f->type == FAULT_NET_LOSS &&
			      f->params.loss.model == LOSS_GILBERT_ELLIOTT;
			dns_spoof |= f->type == FAULT_NET_DNS &&
				     f->params.dns.action == DNS_ACTION_SPOOF &&
				     f->params.dns.n_a && f->params.dns.n_aaaa;
			for (size_t k = 0; f->type == FAULT_NET_DNS && k < f->target.net.n_cidrs;
			     k++)
				dns_v6 |= f->target.net.cidrs[k].family == AF_INET6;
			switch (exp_fault_target_kind(f->type)) {
			case FAULT_TARGET_NET: {
				const struct container_ref *c = f->target.net.container;

				net_name |= c && c->name;
				net_compose |= c && c->compose;
				net_netns |= f->target.net.netns_path != NULL;
				break;
			}
			case FAULT_TARGET_PROC:
				proc_ctr |= f->target.proc.container != NULL;
				break;
			case FAULT_TARGET_STRESS:
				stress_ctr |= f->target.stress.container != NULL;
				break;
			case FAULT_TARGET_NONE:
				break;
			}
		}
		for (size_t j = 0; j < e->n_guardrails; j++) {
			const struct exp_probe *p = &e->guardrails[j].probe;

			kinds[p->kind] = true;
			if (p->kind == PROBE_BURN_RATE) {
				burn_http |= p->u.burn_rate.http != NULL;
				burn_prom |= p->u.burn_rate.prometheus != NULL;
			}
		}
		inventory |= e->inventory != NULL;
		window |= e->safety.window != NULL;
	}
	for (int t = 0; t < FAULT_TYPE_COUNT; t++) {
		if (!types[t])
			fprintf(stderr, "no example uses %s\n", exp_fault_type_name(t));
		assert_true(types[t]);
	}
	assert_true(kinds[PROBE_HTTP]);
	assert_true(kinds[PROBE_PROMETHEUS]);
	assert_true(kinds[PROBE_COMMAND]);
	assert_true(kinds[PROBE_BURN_RATE]);
	assert_true(burn_http);
	assert_true(burn_prom);
	assert_true(ge);
	assert_true(dns_spoof);
	assert_true(dns_v6);
	assert_true(inventory);
	assert_true(window);
	assert_true(net_name);
	assert_true(net_compose);
	assert_true(net_netns);
	assert_true(proc_ctr);
	assert_true(stress_ctr);
}

/* The canonical JSON of each example loads again into an equal model. */
static void test_examples_round_trip(void **state)
{
	struct examples *ex = *state;

	for (size_t i = 0; i < ex->n; i++) {
		const struct experiment *e = ex->exps[i];
		struct experiment *e2 = NULL;
		struct diag_list dl;
		json_t *j, *j2;
		char *text;

		assert_int_equal(exp_to_json(e, &j), 0);
		text = json_dumps(j, JSON_INDENT(2));
		assert_non_null(text);
		assert_int_equal(diag_init(&dl, "roundtrip.json"), 0);
		assert_int_equal(exp_load_buf(text, strlen(text), &e2, &dl), 0);
		assert_int_equal(exp_to_json(e2, &j2), 0);
		assert_true(json_equal(j, j2));
		assert_int_equal(e2->n_faults, e->n_faults);
		for (size_t k = 0; k < e->n_faults; k++)
			assert_true(exp_fault_equal(&e->faults[k], &e2->faults[k]));
		json_decref(j);
		json_decref(j2);
		free(text);
		exp_free(e2);
		diag_clear(&dl);
	}
}

static struct experiment *find(struct examples *ex, const char *name)
{
	for (size_t i = 0; i < ex->n; i++) {
		if (!strcmp(ex->names[i], name))
			return ex->exps[i];
	}
	fail_msg("no example %s", name);
	return NULL;
}

/* `faultctl plan experiments/checkout-latency.yaml` prints exactly the golden file. */
static void test_plan_golden(void **state)
{
	struct experiment *e = find(*state, "checkout-latency.yaml");
	char *out = NULL, *want;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);

	assert_int_equal(exp_plan_render(m, e, "experiments/checkout-latency.yaml"), 0);
	fclose(m);
	want = read_all(FL_SOURCE_DIR "/tests/unit/data/checkout-latency.plan");
	assert_non_null(want);
	if (strcmp(out, want))
		fprintf(stderr, "got:\n%s", out);
	assert_string_equal(out, want);
	free(out);
	free(want);
}

/* The plan says what corruption does: the receiver's checksum drops what it corrupts. */
static void test_plan_corruption_effect(void **state)
{
	struct experiment *e = find(*state, "dns-corruption-duplication.yaml");
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	json_t *plan, *ev;
	size_t i, effects = 0;

	assert_int_equal(exp_plan_render(m, e, "dns-corruption-duplication.yaml"), 0);
	fclose(m);
	assert_non_null(strstr(out, "[network.corruption]"));
	assert_non_null(strstr(out, "effect: flips one bit after the IP header of the chosen "
				    "packets, like a wire error: the receiver's checksum drops "
				    "them, so TCP retransmits"));
	/* Only corruption carries one: duplication's parameters say it all. */
	assert_null(strstr(strstr(out, "effect: ") + 1, "effect: "));
	free(out);

	assert_int_equal(exp_plan_json(e, &plan), 0);
	json_array_foreach(json_object_get(plan, "timeline"), i, ev)
	{
		const char *effect = json_string_value(json_object_get(ev, "effect"));

		if (!effect)
			continue;
		effects++;
		assert_string_equal(json_string_value(json_object_get(ev, "action")), "apply");
		assert_non_null(strstr(effect, "no application sees changed bytes"));
	}
	assert_int_equal(effects, 1);
	json_decref(plan);
}

static void test_plan_json(void **state)
{
	struct experiment *e = find(*state, "worker-kill.yaml");
	json_t *plan, *tl, *ev;
	size_t i;
	static const char *const want[][3] = {
		{"0s", "start", NULL},
		{"30s", "signal", "graceful-stop-one"},
		{"2m", "apply", "kill-a-third"},
		{"10m", "revert", "kill-a-third"},
		{"12m", "end", NULL},
	};

	assert_int_equal(exp_plan_json(e, &plan), 0);
	tl = json_object_get(plan, "timeline");
	assert_int_equal(json_array_size(tl), 5);
	json_array_foreach(tl, i, ev)
	{
		assert_string_equal(json_string_value(json_object_get(ev, "at")), want[i][0]);
		assert_string_equal(json_string_value(json_object_get(ev, "action")), want[i][1]);
		if (want[i][2])
			assert_string_equal(json_string_value(json_object_get(ev, "fault")),
					    want[i][2]);
	}
	ev = json_array_get(tl, 2);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(ev, "spec"), "params"), "signal")),
		"SIGKILL");
	assert_string_equal(json_string_value(json_array_get(json_object_get(ev, "agents"), 0)),
			    "worker-host-1");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(plan, "experiment"), "name")),
		"queue-worker-kill");
	json_decref(plan);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_example_validates),
		cmocka_unit_test(test_examples_cover_everything),
		cmocka_unit_test(test_examples_round_trip),
		cmocka_unit_test(test_plan_golden),
		cmocka_unit_test(test_plan_json),
		cmocka_unit_test(test_plan_corruption_effect),
	};

	return cmocka_run_group_tests(tests, load_examples, free_examples);
}
