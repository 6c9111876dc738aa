/*
 * libFuzzer target for the experiment loader and the single-fault parser. Beyond "no
 * crash, no leak, no undefined behaviour" it checks the promises other code relies on:
 * a valid input has at least no problem reported, and its canonical JSON loads again into
 * an equal model (the controller sends faults to agents in that form); the strict JSON check
 * of *.json files never refuses what jansson, a strict RFC 8259 parser, reads.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "exp.h"

static FILE *devnull;

static void fail(const char *what, struct diag_list *dl, const char *text)
{
	fprintf(stderr, "fuzz_exp_load: %s\n", what);
	if (dl)
		diag_print(stderr, dl);
	if (text)
		fprintf(stderr, "%s\n", text);
	abort();
}

static void check_experiment(const uint8_t *data, size_t size)
{
	struct experiment *e = NULL, *e2 = NULL;
	struct diag_list dl, dl2;
	json_t *j = NULL, *j2 = NULL, *plan = NULL;
	char *text = NULL;
	int r;

	if (diag_init(&dl, "fuzz"))
		return;
	r = exp_load_buf((const char *)data, size, &e, &dl);
	if (r == 0 && diag_total(&dl))
		fail("valid experiment with problems reported", &dl, NULL);
	if (r && r != -ENOMEM && !diag_total(&dl))
		fail("invalid experiment without a problem reported", NULL, NULL);
	diag_print(devnull, &dl);
	diag_clear(&dl);
	if (r)
		return;

	exp_plan_render(devnull, e, "fuzz");
	if (exp_plan_json(e, &plan))
		fail("exp_plan_json failed", NULL, NULL);
	json_decref(plan);
	if (exp_to_json(e, &j))
		fail("exp_to_json failed", NULL, NULL);
	text = json_dumps(j, JSON_COMPACT);
	if (!text)
		fail("json_dumps failed", NULL, NULL);
	/* Defaults written out can make the canonical form longer than the input limit. */
	if (strlen(text) <= EXP_MAX_DOC_SIZE) {
		if (diag_init(&dl2, "roundtrip"))
			goto out;
		r = exp_load_buf(text, strlen(text), &e2, &dl2);
		if (r)
			fail("canonical JSON does not load again", &dl2, text);
		diag_clear(&dl2);
		if (exp_to_json(e2, &j2))
			fail("exp_to_json failed", NULL, NULL);
		if (!json_equal(j, j2))
			fail("canonical JSON changes on a second round", NULL, text);
		for (size_t i = 0; i < e->n_faults; i++) {
			if (!exp_fault_equal(&e->faults[i], &e2->faults[i]))
				fail("fault differs after a round trip", NULL, text);
		}
	}
out:
	json_decref(j);
	json_decref(j2);
	free(text);
	exp_free(e);
	exp_free(e2);
}

static void check_fault(const uint8_t *data, size_t size)
{
	struct fault_spec *f = NULL, *f2 = NULL;
	struct diag_list dl;
	json_t *j = NULL;
	char *text;
	int r;

	if (diag_init(&dl, "fuzz"))
		return;
	r = exp_fault_parse((const char *)data, size, &f, &dl);
	diag_clear(&dl);
	if (r)
		return;
	if (exp_fault_to_json(f, &j))
		fail("exp_fault_to_json failed", NULL, NULL);
	text = json_dumps(j, JSON_COMPACT);
	if (!text)
		fail("json_dumps failed", NULL, NULL);
	if (strlen(text) <= EXP_MAX_DOC_SIZE && !diag_init(&dl, "roundtrip")) {
		r = exp_fault_parse(text, strlen(text), &f2, &dl);
		if (r)
			fail("canonical fault JSON does not parse again", &dl, text);
		if (!exp_fault_equal(f, f2))
			fail("fault differs after a round trip", NULL, text);
		diag_clear(&dl);
	}
	free(text);
	json_decref(j);
	exp_fault_free(f);
	exp_fault_free(f2);
}

/*
 * exp_json_check() must not refuse valid JSON. (It may take what jansson refuses for its
 * encoding, invalid UTF-8 or lone surrogates: the YAML reader checks that next.)
 */
static void check_json_strict(const uint8_t *data, size_t size)
{
	struct diag_list dl;
	json_error_t jerr;
	json_t *j;
	int r;

	if (size > EXP_MAX_DOC_SIZE || diag_init(&dl, "fuzz"))
		return;
	r = exp_json_check((const char *)data, size, &dl);
	if (r && r != -ENOMEM && !diag_total(&dl))
		fail("strict JSON refused without a problem reported", NULL, NULL);
	j = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &jerr);
	if (j && r == -EINVAL)
		fail("strict JSON check refuses what jansson reads", &dl, NULL);
	json_decref(j);
	diag_clear(&dl);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_experiment(data, size);
	check_fault(data, size);
	check_json_strict(data, size);
	return 0;
}
