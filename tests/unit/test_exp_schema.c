/*
 * docs/experiment.schema.json against the loader's key tables: every key the loader
 * accepts is in the schema, every property the schema allows is accepted by the loader,
 * and every object refuses other keys, as the loader does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "diag.h"
#include "exp.h"

struct walk {
	json_t *defs;
	json_t *seen; /* object name -> {key: true} from the loader */
	int missing;
};

static void on_key(const char *object, const char *key, void *arg)
{
	struct walk *w = arg;
	json_t *def = json_object_get(w->defs, object);
	json_t *keys = json_object_get(w->seen, object);

	if (!keys) {
		keys = json_object();
		json_object_set_new(w->seen, object, keys);
	}
	if (!key)
		return;
	json_object_set_new(keys, key, json_true());
	if (!json_object_get(json_object_get(def, "properties"), key)) {
		fprintf(stderr, "schema lacks %s.%s, which the loader accepts\n", object, key);
		w->missing++;
	}
}

static json_t *load_schema(void)
{
	json_error_t err;
	json_t *s = json_load_file(FL_SOURCE_DIR "/docs/experiment.schema.json", 0, &err);

	if (!s)
		fprintf(stderr, "schema: %s:%d: %s\n", err.source, err.line, err.text);
	return s;
}

static void test_loader_keys_in_schema(void **state)
{
	json_t *schema = load_schema();
	struct walk w = {0};
	const char *name, *key;
	json_t *keys, *def, *v;
	int extra = 0, objects = 0;

	assert_non_null(schema);
	w.defs = json_object_get(schema, "definitions");
	w.seen = json_object();
	assert_non_null(w.defs);
	exp_schema_walk(on_key, &w);
	assert_int_equal(w.missing, 0);

	json_object_foreach(w.seen, name, keys)
	{
		def = json_object_get(w.defs, name);
		objects++;
		/* The loader tracks the keys of an object in a 64-bit mask. */
		assert_true(json_object_size(keys) <= 64);
		assert_non_null(def);
		assert_true(json_is_false(json_object_get(def, "additionalProperties")));
		json_object_foreach(json_object_get(def, "properties"), key, v)
		{
			if (json_object_get(keys, key))
				continue;
			fprintf(stderr, "schema allows %s.%s, which the loader refuses\n", name,
				key);
			extra++;
		}
	}
	assert_int_equal(extra, 0);
	/* Every object definition of the schema is one the loader knows. */
	json_object_foreach(w.defs, name, def)
	{
		if (json_object_get(def, "properties") && !json_object_get(w.seen, name)) {
			fprintf(stderr, "schema defines %s, which the loader has no table for\n",
				name);
			extra++;
		}
	}
	assert_int_equal(extra, 0);
	/*
	 * experiment, agent, safety, window, steady_state, check, guardrail; http,
	 * max_latency, tls, prometheus, command, burn_rate and its http, prometheus and window;
	 * fault, net_target, proc_target, stress_target, container, container_compose; one
	 * params object per fault type.
	 */
	assert_int_equal(objects, 22 + FAULT_TYPE_COUNT);
	json_decref(w.seen);
	json_decref(schema);
}

/* Whether pattern (an ECMA regex simple enough for POSIX ERE) matches s. */
static bool pattern_matches(const char *pattern, const char *s)
{
	regex_t re;
	int r;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	r = regexec(&re, s, 0, NULL, 0);
	regfree(&re);
	return r == 0;
}

/* Whether the loader takes cidr as a partition fault's target CIDR. */
static bool loader_takes_cidr(const char *cidr)
{
	struct fault_spec *spec = NULL;
	struct diag_list dl;
	char doc[512];
	int r;

	snprintf(doc, sizeof(doc),
		 "{\"name\": \"f\", \"type\": \"network.partition\", \"duration\": \"1m\", "
		 "\"target\": {\"interface\": \"eth0\", \"cidrs\": [\"%s\"]}}",
		 cidr);
	assert_int_equal(diag_init(&dl, "request"), 0);
	r = exp_fault_parse(doc, strlen(doc), &spec, &dl);
	exp_fault_free(spec);
	diag_clear(&dl);
	return r == 0;
}

/*
 * The schema's CIDR patterns refuse only what the loader refuses (an editor must not flag a
 * file that runs), and refuse IPv4-mapped IPv6 addresses as the loader does.
 */
static void test_cidr_pattern_in_step(void **state)
{
	static const struct {
		const char *cidr;
		bool valid;
	} cases[] = {
		{"192.0.2.0/24", true},
		{"10.250.1.2", true},
		{"2001:db8::/32", true},
		{"::/0", true},
		{"::1", true},
		{"::fffe:a00:1/128", true},
		{"::ffff:10.250.1.2/128", false},
		{"::FFFF:a00:1", false},
		{"::ffff:0.0.0.0/96", false},
	};
	json_t *schema = load_schema();
	json_t *cidr = json_object_get(json_object_get(schema, "definitions"), "cidr");
	const char *pattern = json_string_value(json_object_get(cidr, "pattern"));
	const char *not_pattern =
		json_string_value(json_object_get(json_object_get(cidr, "not"), "pattern"));

	assert_non_null(pattern);
	assert_non_null(not_pattern);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool schema_ok = pattern_matches(pattern, cases[i].cidr) &&
				 !pattern_matches(not_pattern, cases[i].cidr);

		if (schema_ok != cases[i].valid ||
		    loader_takes_cidr(cases[i].cidr) != cases[i].valid)
			fprintf(stderr, "%s: schema %s, loader %s, expected %s\n", cases[i].cidr,
				schema_ok ? "takes it" : "refuses it",
				loader_takes_cidr(cases[i].cidr) ? "takes it" : "refuses it",
				cases[i].valid ? "valid" : "invalid");
		assert_int_equal(schema_ok, cases[i].valid);
		assert_int_equal(loader_takes_cidr(cases[i].cidr), cases[i].valid);
	}
	json_decref(schema);
}

/* The schema's fault types, and its per-type params, are the loader's. */
static void test_fault_types_in_schema(void **state)
{
	json_t *schema = load_schema();
	json_t *defs = json_object_get(schema, "definitions");
	json_t *fault = json_object_get(defs, "fault");
	json_t *types = json_object_get(
		json_object_get(json_object_get(fault, "properties"), "type"), "enum");
	json_t *cases = json_object_get(fault, "allOf");

	assert_int_equal(json_array_size(types), FAULT_TYPE_COUNT);
	assert_int_equal(json_array_size(cases), FAULT_TYPE_COUNT);
	for (int t = 0; t < FAULT_TYPE_COUNT; t++) {
		const char *name = exp_fault_type_name(t);
		json_t *c = json_array_get(cases, (size_t)t);
		char ref[128];

		assert_string_equal(json_string_value(json_array_get(types, (size_t)t)), name);
		assert_string_equal(
			json_string_value(json_object_get(
				json_object_get(
					json_object_get(json_object_get(c, "if"), "properties"),
					"type"),
				"const")),
			name);
		snprintf(ref, sizeof(ref), "#/definitions/params.%s", name);
		assert_string_equal(
			json_string_value(json_object_get(
				json_object_get(
					json_object_get(json_object_get(c, "then"), "properties"),
					"params"),
				"$ref")),
			ref);
	}
	json_decref(schema);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loader_keys_in_schema),
		cmocka_unit_test(test_fault_types_in_schema),
		cmocka_unit_test(test_cidr_pattern_in_step),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
