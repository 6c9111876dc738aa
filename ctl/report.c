/*
 * The report files rendered from a JSON report (docs/report.schema.json) or a game day's
 * (docs/gameday.schema.json): JUnit XML and Markdown, and the JSON itself. Pure functions
 * of the JSON: nothing here knows a run's state, so the unit tests feed them fixtures.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultline/fault_status.h"
#include "report.h"

int report_write_json(const json_t *report, const char *path)
{
	FILE *f = fopen(path, "we");
	int err = 0;

	if (!f)
		return -errno;
	if (json_dumpf(report, f, JSON_INDENT(2)) || fputc('\n', f) == EOF)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

/* JUnit XML. */

static void xml_text(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '&')
			fputs("&amp;", f);
		else if (c == '"')
			fputs("&quot;", f);
		else if (c == '\n' || c == '\t')
			fputc(c, f);
		else if (c < 0x20)
			fprintf(f, "&#x%x;", c == '\r' ? c : 0xfffd);
		else
			fputc(c, f);
	}
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static double jnum(const json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

struct junit_case {
	char classname[160];
	char name[160];
	double time_s;
	const char *kind; /* NULL: passed; "failure", "error" or "skipped" */
	char message[1024];
};

static void case_check(struct junit_case *c, const char *exp, const char *phase, const json_t *chk)
{
	const json_t *rd = json_object_get(chk, "reading");

	snprintf(c->classname, sizeof(c->classname), "%s.steady_state.%s", exp, phase);
	snprintf(c->name, sizeof(c->name), "%s", jstr(chk, "name"));
	c->time_s = jnum(chk, "took_ms") / 1000;
	if (json_is_true(json_object_get(chk, "ok")))
		return;
	c->kind = json_is_string(json_object_get(chk, "error")) ||
				  !json_is_true(json_object_get(rd, "valid"))
			  ? "error"
			  : "failure";
	snprintf(c->message, sizeof(c->message), "%s",
		 json_is_string(json_object_get(chk, "error")) ? jstr(chk, "error")
							       : jstr(rd, "summary"));
}

/* The test cases of one run report, in report order. Returns 0 or -ENOMEM. */
static int junit_cases(const json_t *rep, struct junit_case **out, size_t *count)
{
	const char *exp = jstr(json_object_get(rep, "experiment"), "name");
	const json_t *ss = json_object_get(rep, "steady_state");
	const char *outcome = jstr(rep, "outcome");
	struct junit_case *cases;
	size_t n = 0, cap, i;
	const json_t *v;

	cap = json_array_size(json_object_get(ss, "before")) +
	      json_array_size(json_object_get(ss, "after")) +
	      json_array_size(json_object_get(rep, "guardrails")) + 2;
	cases = calloc(cap, sizeof(*cases));
	if (!cases)
		return -ENOMEM;
	json_array_foreach(json_object_get(ss, "before"), i, v)
		case_check(&cases[n++], exp, "before", v);
	json_array_foreach(json_object_get(rep, "guardrails"), i, v)
	{
		struct junit_case *c = &cases[n++];
		const json_t *last = json_object_get(v, "last");

		snprintf(c->classname, sizeof(c->classname), "%s.guardrails", exp);
		snprintf(c->name, sizeof(c->name), "%s", jstr(v, "name"));
		c->time_s = jnum(rep, "elapsed_ms") / 1000;
		if (json_is_true(json_object_get(v, "breached")) &&
		    !json_is_true(json_object_get(json_object_get(v, "breach"), "valid"))) {
			/* Stopped on a probe error (on_error: abort): nothing was measured. */
			c->kind = "error";
			snprintf(c->message, sizeof(c->message), "could not be read: %s",
				 jstr(json_object_get(v, "breach"), "summary"));
		} else if (json_is_true(json_object_get(v, "breached"))) {
			c->kind = "failure";
			snprintf(c->message, sizeof(c->message), "breached: %s",
				 jstr(json_object_get(v, "breach"), "summary"));
		} else if (json_is_true(json_object_get(v, "inconclusive"))) {
			c->kind = "error";
			snprintf(c->message, sizeof(c->message), "could not watch the run: %s",
				 jstr(v, "inconclusive_reason"));
		} else if (!json_integer_value(json_object_get(v, "samples"))) {
			c->kind = "skipped";
			snprintf(c->message, sizeof(c->message), "no sample was taken");
		} else {
			snprintf(c->message, sizeof(c->message), "%s", jstr(last, "summary"));
		}
	}
	json_array_foreach(json_object_get(ss, "after"), i, v)
		case_check(&cases[n++], exp, "after", v);
	{
		struct junit_case *c = &cases[n++];

		snprintf(c->classname, sizeof(c->classname), "%s", exp);
		snprintf(c->name, sizeof(c->name), "revert");
		if (json_is_null(json_object_get(rep, "all_reverted_ms"))) {
			c->kind = "skipped";
			snprintf(c->message, sizeof(c->message), "nothing was applied");
		} else {
			double sent = jnum(rep, "all_reverted_ms");

			json_array_foreach(json_object_get(rep, "agents"), i, v)
			{
				const json_t *rv = json_object_get(v, "revert");

				/* From the first revert request to the last answer. */
				if (json_is_number(json_object_get(rv, "sent_ms")) &&
				    jnum(rv, "sent_ms") < sent)
					sent = jnum(rv, "sent_ms");
				if (json_is_object(rv) &&
				    !json_is_true(json_object_get(rv, "ok"))) {
					c->kind = "error";
					snprintf(c->message, sizeof(c->message),
						 "agent %s did not confirm the revert: %s",
						 jstr(v, "name"), jstr(rv, "error"));
				}
			}
			c->time_s = (jnum(rep, "all_reverted_ms") - sent) / 1000;
		}
		c = &cases[n++];
		snprintf(c->classname, sizeof(c->classname), "%s", exp);
		snprintf(c->name, sizeof(c->name), "hypothesis");
		c->time_s = jnum(rep, "elapsed_ms") / 1000;
		snprintf(c->message, sizeof(c->message), "%s %s", jstr(rep, "verdict"),
			 jstr(rep, "reason"));
		if (!strcmp(outcome, "aborted") || !strcmp(outcome, "not_recovered"))
			c->kind = "failure";
		else if (!strcmp(outcome, "dry_run") || !strcmp(outcome, "refused"))
			c->kind = "skipped";
		else if (strcmp(outcome, "held"))
			c->kind = "error";
	}
	*out = cases;
	*count = n;
	return 0;
}

struct junit_counts {
	size_t tests, failures, errors, skipped;
};

static void junit_count(const struct junit_case *cases, size_t n, struct junit_counts *k)
{
	memset(k, 0, sizeof(*k));
	k->tests = n;
	for (size_t i = 0; i < n; i++) {
		k->failures += cases[i].kind && !strcmp(cases[i].kind, "failure");
		k->errors += cases[i].kind && !strcmp(cases[i].kind, "error");
		k->skipped += cases[i].kind && !strcmp(cases[i].kind, "skipped");
	}
}

static void junit_testcases(FILE *f, const struct junit_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct junit_case *c = &cases[i];

		fprintf(f, "    <testcase classname=\"");
		xml_text(f, c->classname);
		fprintf(f, "\" name=\"");
		xml_text(f, c->name);
		/* Microseconds: a revert on one host often takes well under a millisecond. */
		fprintf(f, "\" time=\"%.6f\"", c->time_s);
		if (!c->kind) {
			fprintf(f, "/>\n");
			continue;
		}
		fprintf(f, ">\n      <%s message=\"", c->kind);
		xml_text(f, c->message);
		fprintf(f, "\"/>\n    </testcase>\n");
	}
}

/* One run report as a <testsuite>; id is the game-day step (0: none). */
static void junit_suite(FILE *f, const json_t *rep, size_t id, const struct junit_case *cases,
			size_t n)
{
	const json_t *ss = json_object_get(rep, "steady_state");
	struct junit_counts k;
	const json_t *v;
	size_t i;

	junit_count(cases, n, &k);
	fprintf(f, "  <testsuite name=\"");
	xml_text(f, jstr(json_object_get(rep, "experiment"), "name"));
	fprintf(f, "\"");
	if (id)
		fprintf(f, " id=\"%zu\"", id);
	fprintf(f,
		" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" "
		"time=\"%.3f\" timestamp=\"%.19s\">\n",
		k.tests, k.failures, k.errors, k.skipped, jnum(rep, "elapsed_ms") / 1000,
		jstr(rep, "started_at"));
	fprintf(f, "    <properties>\n");
	fprintf(f, "      <property name=\"outcome\" value=\"%s\"/>\n", jstr(rep, "outcome"));
	fprintf(f, "      <property name=\"exit_code\" value=\"%lld\"/>\n",
		(long long)json_integer_value(json_object_get(rep, "exit_code")));
	fprintf(f, "      <property name=\"hypothesis\" value=\"");
	xml_text(f, jstr(json_object_get(rep, "experiment"), "hypothesis"));
	fprintf(f, "\"/>\n");
	if (json_is_object(json_object_get(rep, "abort")))
		fprintf(f, "      <property name=\"breach_to_reverted_ms\" value=\"%.3f\"/>\n",
			jnum(json_object_get(rep, "abort"), "breach_to_reverted_ms"));
	if (json_is_number(json_object_get(ss, "recovery_ms")))
		fprintf(f, "      <property name=\"recovery_ms\" value=\"%.3f\"/>\n",
			jnum(ss, "recovery_ms"));
	/* A fault whose container exited ended early: say which and why. */
	json_array_foreach(json_object_get(rep, "faults"), i, v)
	{
		if (strcmp(jstr(v, "state"), "target_gone"))
			continue;
		fprintf(f, "      <property name=\"target_gone.");
		xml_text(f, jstr(v, "name"));
		fprintf(f, "\" value=\"");
		xml_text(f, jstr(v, "revert_reason"));
		fprintf(f, "\"/>\n");
	}
	fprintf(f, "    </properties>\n");
	junit_testcases(f, cases, n);
	fprintf(f, "    <system-out>");
	json_array_foreach(json_object_get(rep, "timeline"), i, v)
	{
		fprintf(f, "[%+.3fs] ", jnum(v, "t_ms") / 1000);
		xml_text(f, jstr(v, "text"));
		fputc('\n', f);
	}
	fprintf(f, "</system-out>\n  </testsuite>\n");
}

static int close_report(FILE *f)
{
	int err = ferror(f) ? -EIO : 0;

	if (fclose(f) && !err)
		err = -errno;
	return err;
}

int report_write_junit(const json_t *rep, const char *path)
{
	struct junit_case *cases;
	struct junit_counts k;
	size_t n;
	FILE *f;
	int err;

	err = junit_cases(rep, &cases, &n);
	if (err)
		return err;
	junit_count(cases, n, &k);
	f = fopen(path, "we");
	if (!f) {
		err = -errno;
		free(cases);
		return err;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f,
		"<testsuites name=\"faultline\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
		"skipped=\"%zu\" time=\"%.3f\">\n",
		k.tests, k.failures, k.errors, k.skipped, jnum(rep, "elapsed_ms") / 1000);
	junit_suite(f, rep, 0, cases, n);
	fprintf(f, "</testsuites>\n");
	free(cases);
	return close_report(f);
}

int report_write_gameday_junit(const json_t *gd, const char *path)
{
	const json_t *steps = json_object_get(gd, "steps"), *st;
	size_t n_steps = json_array_size(steps), i;
	struct junit_case **cases = calloc(n_steps ? n_steps : 1, sizeof(*cases));
	size_t *n = calloc(n_steps ? n_steps : 1, sizeof(*n));
	struct junit_counts total = {0}, k;
	FILE *f = NULL;
	int err = 0;

	if (!cases || !n) {
		err = -ENOMEM;
		goto out;
	}
	json_array_foreach(steps, i, st)
	{
		const json_t *rep = json_object_get(st, "report");
		struct junit_case *c;

		if (json_is_object(rep)) {
			err = junit_cases(rep, &cases[i], &n[i]);
			if (err)
				goto out;
		} else {
			/* A step that never started is one skipped case, so CI counts it. */
			c = cases[i] = calloc(1, sizeof(*c));
			if (!c) {
				err = -ENOMEM;
				goto out;
			}
			n[i] = 1;
			snprintf(c->classname, sizeof(c->classname), "%s",
				 jstr(st, "name")[0] ? jstr(st, "name") : jstr(st, "experiment"));
			snprintf(c->name, sizeof(c->name), "hypothesis");
			c->kind = "skipped";
			snprintf(c->message, sizeof(c->message), "not run: %s", jstr(st, "reason"));
		}
		junit_count(cases[i], n[i], &k);
		total.tests += k.tests;
		total.failures += k.failures;
		total.errors += k.errors;
		total.skipped += k.skipped;
	}
	f = fopen(path, "we");
	if (!f) {
		err = -errno;
		goto out;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<testsuites name=\"");
	xml_text(f, jstr(json_object_get(gd, "gameday"), "name"));
	fprintf(f,
		"\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" "
		"time=\"%.3f\">\n",
		total.tests, total.failures, total.errors, total.skipped,
		jnum(gd, "elapsed_ms") / 1000);
	json_array_foreach(steps, i, st)
	{
		const json_t *rep = json_object_get(st, "report");

		if (json_is_object(rep)) {
			junit_suite(f, rep, i + 1, cases[i], n[i]);
			continue;
		}
		fprintf(f, "  <testsuite name=\"");
		xml_text(f, cases[i][0].classname);
		fprintf(f,
			"\" id=\"%zu\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"1\" "
			"time=\"0.000\">\n",
			i + 1);
		junit_testcases(f, cases[i], 1);
		fprintf(f, "  </testsuite>\n");
	}
	fprintf(f, "</testsuites>\n");
	err = close_report(f);
out:
	for (i = 0; cases && i < n_steps; i++)
		free(cases[i]);
	free(cases);
	free(n);
	return err;
}

/* Markdown. */

static void md_cell(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else if (*s == '\n')
			fputs("<br>", f);
		else
			fputc(*s, f);
	}
}

/* What the agent measured, in words where the status shape is known. */
static void md_achieved_text(FILE *f, const json_t *fault);

/* What the agent measured; "(last read at t+...)" where it is not the final status. */
static void md_achieved(FILE *f, const json_t *fault)
{
	md_achieved_text(f, fault);
	if (json_is_object(json_object_get(fault, "achieved")) &&
	    !json_is_true(json_object_get(fault, "achieved_final")))
		fprintf(f, " (last read at t+%.3f s, not the final status)",
			jnum(fault, "achieved_ms") / 1e3);
}

static void md_achieved_text(FILE *f, const json_t *fault)
{
	const json_t *a = json_object_get(fault, "achieved");
	const json_t *cnt = json_object_get(a, FL_STATUS_COUNTERS);
	const json_t *procs = json_object_get(a, "processes");
	char *text;

	if (json_is_object(cnt)) {
		json_int_t m = json_integer_value(json_object_get(cnt, FL_COUNTER_MATCHED));
		json_int_t d = json_integer_value(json_object_get(cnt, FL_COUNTER_DROPPED));
		json_int_t c = json_integer_value(json_object_get(cnt, FL_COUNTER_CORRUPTED));
		json_int_t u = json_integer_value(json_object_get(cnt, FL_COUNTER_DUPLICATED));
		const json_t *q = json_object_get(cnt, FL_COUNTER_QUERIES);

		if (json_is_integer(q)) {
			/* network.dns: matched counts queries, not packets. */
			json_int_t ans =
				json_integer_value(json_object_get(cnt, FL_COUNTER_ANSWERED));

			fprintf(f,
				"%" JSON_INTEGER_FORMAT " DNS queries, %" JSON_INTEGER_FORMAT
				" matched, %" JSON_INTEGER_FORMAT " answered, %" JSON_INTEGER_FORMAT
				" dropped",
				json_integer_value(q), m, ans, d);
			return;
		}
		fprintf(f, "%" JSON_INTEGER_FORMAT " packets matched", m);
		if (m && d)
			fprintf(f, ", %" JSON_INTEGER_FORMAT " dropped (%.2f%%)", d, 100.0 * d / m);
		if (m && c)
			fprintf(f, ", %" JSON_INTEGER_FORMAT " corrupted (%.2f%%)", c,
				100.0 * c / m);
		if (m && u)
			fprintf(f, ", %" JSON_INTEGER_FORMAT " duplicated (%.2f%%)", u,
				100.0 * u / m);
		return;
	}
	if (json_is_array(procs)) {
		size_t i, stopped = 0;
		const json_t *p;

		json_array_foreach(procs, i, p) stopped +=
			!strcmp(jstr(p, "state"), "T") || !strcmp(jstr(p, "state"), "t");
		fprintf(f, "%zu of %zu selected process%s stopped", stopped, json_array_size(procs),
			json_array_size(procs) == 1 ? "" : "es");
		return;
	}
	if (!a || json_is_null(a)) {
		fputs(json_is_string(json_object_get(fault, "error")) ? jstr(fault, "error") : "-",
		      f);
		return;
	}
	text = json_dumps(a, JSON_COMPACT);
	md_cell(f, text);
	free(text);
}

/* What each applied fault hit, one line per fault that names something (processes, link). */
static void md_matched(FILE *f, const json_t *faults)
{
	const json_t *v, *m, *p;
	size_t i, j;
	bool any = false;

	json_array_foreach(faults, i, v)
	{
		m = json_object_get(v, "matched");
		if (!json_is_object(m))
			continue;
		fprintf(f, "%s- `%s` on %s hit ", any ? "" : "\nWhat the faults hit:\n\n",
			jstr(v, "name"), jstr(v, "agent"));
		any = true;
		if (json_object_get(m, "interface")) {
			fprintf(f, "interface `%s`\n", jstr(m, "interface"));
			continue;
		}
		if (json_object_get(m, "freezer")) {
			fprintf(f, "the cgroup of `%s`\n", jstr(m, "freezer"));
			continue;
		}
		fprintf(f, "%zu process%s:", json_array_size(json_object_get(m, "processes")),
			json_array_size(json_object_get(m, "processes")) == 1 ? "" : "es");
		json_array_foreach(json_object_get(m, "processes"), j, p)
		{
			fprintf(f, "%s pid %lld (", j ? "," : "",
				(long long)json_integer_value(json_object_get(p, "pid")));
			md_cell(f, jstr(p, "comm"));
			fputc(')', f);
		}
		if (json_is_integer(json_object_get(m, "selector_matched")))
			fprintf(f, "; the selector matched %lld",
				(long long)json_integer_value(
					json_object_get(m, "selector_matched")));
		fputc('\n', f);
	}
}

static void md_requested(FILE *f, const json_t *fault)
{
	const json_t *spec = json_object_get(fault, "requested");
	char *t = json_dumps(json_object_get(spec, "params"), JSON_COMPACT);
	char *g = json_dumps(json_object_get(spec, "target"), JSON_COMPACT);

	fputc('`', f);
	md_cell(f, t ? t : "{}");
	fputc('`', f);
	if (g) {
		fputs(" on `", f);
		md_cell(f, g);
		fputc('`', f);
	}
	free(t);
	free(g);
}

/* A guardrail's result: breached on a valid reading, or on a probe error, or blind. */
static const char *md_guard_result(const json_t *g)
{
	if (json_is_true(json_object_get(g, "inconclusive")) &&
	    !json_is_true(json_object_get(g, "breached")))
		return "**inconclusive**";
	if (!json_is_true(json_object_get(g, "breached")))
		return "held";
	if (!json_is_true(json_object_get(json_object_get(g, "breach"), "valid")))
		return "**unreadable**";
	return "**breached**";
}

static void md_reading(FILE *f, const json_t *rd)
{
	if (!json_is_object(rd)) {
		fputs("no sample", f);
		return;
	}
	md_cell(f, jstr(rd, "summary"));
}

/* One run's write-up; level is the depth of its title heading (1: "#"). */
static void markdown_run(FILE *f, const json_t *rep, int level, const char *title)
{
	const json_t *ex = json_object_get(rep, "experiment");
	const json_t *ss = json_object_get(rep, "steady_state");
	const json_t *ab = json_object_get(rep, "abort");
	const char *phases[] = {"before", "after"};
	const json_t *v;
	size_t i;
	const char *h = "######";
	int sub = level + 1 > 6 ? 6 : level + 1;

	if (level > 5)
		level = 5;
	fprintf(f, "%.*s %sExperiment `%s`: %s\n\n", level, h, title ? title : "",
		jstr(ex, "name"), jstr(rep, "outcome"));
	fprintf(f, "**Hypothesis.** %s\n\n", jstr(ex, "hypothesis"));
	fprintf(f, "**Verdict.** %s", jstr(rep, "verdict"));
	if (jstr(rep, "reason")[0])
		fprintf(f, " %s.", jstr(rep, "reason"));
	fprintf(f, "\n\n");
	fprintf(f, "| | |\n|---|---|\n");
	fprintf(f, "| file | `%s` |\n", jstr(ex, "file"));
	fprintf(f, "| started | %s |\n", jstr(rep, "started_at"));
	fprintf(f, "| planned / actual duration | %.1f s / %.1f s |\n",
		jnum(rep, "duration_ms") / 1e3, jnum(rep, "elapsed_ms") / 1e3);
	fprintf(f, "| lease TTL | %.1f s |\n", jnum(rep, "lease_ttl_ms") / 1e3);
	if (json_is_object(ab)) {
		fprintf(f, "| aborted by | guardrail `%s`: ", jstr(ab, "guardrail"));
		md_cell(f, jstr(ab, "summary"));
		fprintf(f, " |\n| breaching sample at | t+%.3f s |\n", jnum(ab, "sample_ms") / 1e3);
		fprintf(f, "| breach to all reverted | **%.1f ms** |\n",
			jnum(ab, "breach_to_reverted_ms"));
	}
	if (json_is_number(json_object_get(ss, "recovery_ms")))
		fprintf(f, "| recovery time | %.0f ms after the revert |\n",
			jnum(ss, "recovery_ms"));
	else if (json_array_size(json_object_get(ss, "after")))
		fprintf(f, "| recovery time | not recovered within %.0f s |\n",
			jnum(ss, "recovery_timeout_ms") / 1e3);
	fprintf(f, "| exit code | %lld |\n\n",
		(long long)json_integer_value(json_object_get(rep, "exit_code")));

	fprintf(f, "%.*s What was injected\n\n", sub, h);
	fprintf(f, "| fault | type | agent | start | duration | state | reverted | requested | "
		   "achieved |\n");
	fprintf(f, "|---|---|---|---|---|---|---|---|---|\n");
	json_array_foreach(json_object_get(rep, "faults"), i, v)
	{
		fprintf(f, "| %s | %s | %s | t+%.1f s | %.1f s | %s | ", jstr(v, "name"),
			jstr(v, "type"), jstr(v, "agent"), jnum(v, "start_ms") / 1e3,
			jnum(v, "duration_ms") / 1e3, jstr(v, "state"));
		if (json_is_number(json_object_get(v, "reverted_ms")))
			fprintf(f, "t+%.3f s | ", jnum(v, "reverted_ms") / 1e3);
		else
			fputs("- | ", f);
		md_requested(f, v);
		fprintf(f, " | ");
		md_achieved(f, v);
		fprintf(f, " |\n");
	}
	md_matched(f, json_object_get(rep, "faults"));
	/* A fault whose container exited ended early: say so below the table. */
	json_array_foreach(json_object_get(rep, "faults"), i, v)
	{
		if (strcmp(jstr(v, "state"), "target_gone"))
			continue;
		fprintf(f, "\n**%s** ended early, its target gone: ", jstr(v, "name"));
		md_cell(f, jstr(v, "revert_reason"));
		fprintf(f, ".\n");
	}
	fprintf(f, "\n%.*s Guardrails\n\n", sub, h);
	if (!json_array_size(json_object_get(rep, "guardrails")))
		fprintf(f, "None.\n");
	else
		fprintf(f, "| guardrail | result | samples | blind | last value | breach |\n"
			   "|---|---|---|---|---|---|\n");
	json_array_foreach(json_object_get(rep, "guardrails"), i, v)
	{
		fprintf(f, "| %s | %s | %lld | ", jstr(v, "name"), md_guard_result(v),
			(long long)json_integer_value(json_object_get(v, "samples")));
		if (json_is_number(json_object_get(v, "watched_ms")))
			fprintf(f, "%.1f s of %.1f s | ", jnum(v, "blind_ms") / 1e3,
				jnum(v, "watched_ms") / 1e3);
		else
			fputs("- | ", f);
		md_reading(f, json_object_get(v, "last"));
		fprintf(f, " | ");
		if (json_is_object(json_object_get(v, "breach")))
			md_reading(f, json_object_get(v, "breach"));
		else
			fputs("-", f);
		fprintf(f, " |\n");
	}
	fprintf(f, "\n%.*s Steady state\n\n", sub, h);
	for (size_t p = 0; p < 2; p++) {
		const json_t *list = json_object_get(ss, phases[p]);

		if (!json_array_size(list)) {
			fprintf(f, "No %s-checks.\n\n", phases[p]);
			continue;
		}
		fprintf(f, "| %s-check | result | reading |\n|---|---|---|\n", phases[p]);
		json_array_foreach(list, i, v)
		{
			fprintf(f, "| %s | %s | ", jstr(v, "name"),
				json_is_true(json_object_get(v, "ok")) ? "passed" : "**failed**");
			if (json_is_string(json_object_get(v, "error")))
				md_cell(f, jstr(v, "error"));
			else
				md_reading(f, json_object_get(v, "reading"));
			fprintf(f, " |\n");
		}
		fprintf(f, "\n");
	}
	fprintf(f, "%.*s Timeline\n\n```\n", sub, h);
	json_array_foreach(json_object_get(rep, "timeline"), i, v)
		fprintf(f, "t+%9.3f s  %s\n", jnum(v, "t_ms") / 1e3, jstr(v, "text"));
	fprintf(f, "```\n");
}

int report_write_markdown(const json_t *rep, const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	markdown_run(f, rep, 1, NULL);
	return close_report(f);
}

int report_write_gameday_markdown(const json_t *gd, const char *path)
{
	const json_t *g = json_object_get(gd, "gameday"), *steps = json_object_get(gd, "steps");
	const json_t *st;
	FILE *f;
	size_t i;

	f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "# Game day `%s`: %s\n\n", jstr(g, "name"), jstr(gd, "outcome"));
	if (jstr(g, "description")[0])
		fprintf(f, "%s\n\n", jstr(g, "description"));
	fprintf(f, "**Verdict.** %s", jstr(gd, "verdict"));
	if (jstr(gd, "reason")[0])
		fprintf(f, " %s.", jstr(gd, "reason"));
	fprintf(f, "\n\n| | |\n|---|---|\n");
	fprintf(f, "| plan | `%s` |\n", jstr(g, "file"));
	fprintf(f, "| started | %s |\n", jstr(gd, "started_at"));
	fprintf(f, "| took | %.1f s |\n", jnum(gd, "elapsed_ms") / 1e3);
	fprintf(f, "| exit code | %lld |\n\n",
		(long long)json_integer_value(json_object_get(gd, "exit_code")));
	fprintf(f, "## Summary\n\n");
	fprintf(f, "| step | experiment | outcome | exit code | breach to reverted | recovery | "
		   "reason |\n|---|---|---|---|---|---|---|\n");
	json_array_foreach(steps, i, st)
	{
		const json_t *rep = json_object_get(st, "report");
		const json_t *ab = json_object_get(rep, "abort");
		const json_t *ss = json_object_get(rep, "steady_state");

		fprintf(f, "| %zu | `", i + 1);
		md_cell(f, jstr(st, "experiment"));
		fprintf(f, "` | %s | ", json_is_string(json_object_get(st, "outcome"))
					       ? jstr(st, "outcome")
					       : jstr(st, "state"));
		if (json_is_integer(json_object_get(st, "exit_code")))
			fprintf(f, "%lld | ",
				(long long)json_integer_value(json_object_get(st, "exit_code")));
		else
			fprintf(f, "- | ");
		if (json_is_object(ab))
			fprintf(f, "%.1f ms | ", jnum(ab, "breach_to_reverted_ms"));
		else
			fprintf(f, "- | ");
		if (json_is_number(json_object_get(ss, "recovery_ms")))
			fprintf(f, "%.0f ms | ", jnum(ss, "recovery_ms"));
		else
			fprintf(f, "- | ");
		md_cell(f, jstr(st, "reason"));
		fprintf(f, " |\n");
	}
	json_array_foreach(steps, i, st)
	{
		const json_t *rep = json_object_get(st, "report");
		char title[64];

		fprintf(f, "\n");
		if (json_is_object(rep)) {
			snprintf(title, sizeof(title), "Step %zu: ", i + 1);
			markdown_run(f, rep, 2, title);
			continue;
		}
		fprintf(f, "## Step %zu: `", i + 1);
		md_cell(f, jstr(st, "experiment"));
		fprintf(f, "`: %s\n\n", jstr(st, "state"));
		fprintf(f, "Not run: ");
		md_cell(f, jstr(st, "reason"));
		fprintf(f, ".\n");
	}
	return close_report(f);
}
