/*
 * faultctl gameday: run the experiments of a game-day plan in order, each exactly as
 * `faultctl run` runs it (run_execute()), with pauses, operator confirmations and an allowed
 * time window, and write one combined report (docs/gameday.schema.json).
 *
 * Everything is checked before anything runs: the plan, every experiment file, its agents
 * and inventory, and whether the confirmations can be asked at all. SIGINT and SIGTERM are
 * read from one signalfd: during a step the run reverts and ends as `faultctl run` does,
 * and the game day stops; during a pause or a prompt the game day stops at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cmdline.h"
#include "ctl.h"
#include "diag.h"
#include "exp.h"
#include "fleet.h"
#include "gameday.h"
#include "inventory.h"
#include "report.h"
#include "run.h"
#include "run_cmdline.h"
#include "timefmt.h"
#include "version.h"

#define MS 1000000LL
#define GD_REPORT_VERSION 1

enum gd_step_state {
	GS_NOT_STARTED,
	GS_RAN,
	GS_DECLINED, /* the operator answered no at the confirmation */
};

struct gd_run_step {
	char *file; /* the experiment file, resolved against the plan */
	struct experiment *e;
	struct inventory *inv; /* the step's own inventory, or NULL (then the plan's) */
	int state;	       /* enum gd_step_state */
	int exit_code;
	struct run_result res; /* the run's report, whether e must stay allocated, a signal */
	const char *confirmed_by;
	int64_t started_ns, ended_ns;
	char reason[512];
};

/*
 * In the order of the getopt table before it was declarative, which the possibilities of
 * an ambiguous abbreviation (--j) follow.
 */
static const struct ctl_opt gameday_opts[] = {
	{.name = "yes",
	 .short_name = 'y',
	 .kind = CTL_OPT_FLAG,
	 .offset = offsetof(struct run_cmdline, yes),
	 .help = "answer yes to every confirmation (confirm: true), for\n"
		 "unattended runs; the report says \"confirmed_by\": \"--yes\""},
	{.name = "json",
	 .kind = CTL_OPT_FLAG,
	 .offset = offsetof(struct run_cmdline, json),
	 .help = "(also as a global option) the combined JSON report on\n"
		 "stdout; the live view goes to stderr"},
	{.name = "report-json",
	 .kind = CTL_OPT_STRING,
	 .arg = "FILE",
	 .offset = offsetof(struct run_cmdline, report_json),
	 .help = "the combined report as JSON (docs/gameday.schema.json)"},
	{.name = "junit",
	 .kind = CTL_OPT_STRING,
	 .arg = "FILE",
	 .offset = offsetof(struct run_cmdline, junit),
	 .help = "JUnit XML, one testsuite per step"},
	{.name = "markdown",
	 .kind = CTL_OPT_STRING,
	 .arg = "FILE",
	 .offset = offsetof(struct run_cmdline, markdown),
	 .help = "one write-up: a summary table and a section per step"},
	{.name = "help", .short_name = 'h', .kind = CTL_OPT_HELP},
	{0},
};

static const struct ctl_cmdline gameday_cl = {
	.cmd = "faultctl gameday",
	.head = "Usage: faultctl [--json] gameday PLAN [--yes] [--report-json FILE]\n"
		"                [--junit FILE] [--markdown FILE] [--json]\n"
		"\n"
		"Run a game day: the experiments of a plan in order, each as 'faultctl run' runs\n"
		"it, with the plan's pauses and confirmations, inside its allowed window. The\n"
		"plan and every experiment are validated first; nothing runs if any is invalid.\n"
		"No option overrides the plan's window: a game day at another time is a change\n"
		"to the plan (docs/gameday.md).\n"
		"\n",
	.tail = "Exit status: 0 every step's hypothesis held, 1 a step was aborted by a guardrail\n"
		"or did not recover, 2 invalid input (or a confirmation with no terminal and no\n"
		"--yes), 3 agent or infrastructure error, 4 refused (outside the window, a step\n"
		"refused to start or declined), 130/143 interrupted by SIGINT/SIGTERM.\n",
	.opts = gameday_opts,
};

void cmd_gameday_usage(void)
{
	ctl_cmdline_usage(&gameday_cl);
}

static const struct run_cmdline_spec gd_cmdline = {
	.cl = &gameday_cl,
	.operand = "plan file",
	.write_junit = report_write_gameday_junit,
	.write_markdown = report_write_gameday_markdown,
};

/* An experiment alone, with the positioned diagnostics `faultctl run` prints. */
static int load_experiment(const char *file, struct experiment **e)
{
	struct diag_list dl;
	int err;

	if (diag_init(&dl, file))
		return -ENOMEM;
	err = exp_load_file(file, e, &dl);
	if (err)
		diag_print(stderr, &dl);
	diag_clear(&dl);
	return err == -ENOMEM ? err : err ? -EINVAL : 0;
}

/*
 * Load the plan's inventory and every step's experiment (and its own inventory when the
 * plan names none) and resolve their agents. Every problem is printed; returns the number
 * of inputs that failed, or -ENOMEM.
 */
static int load_all(const char *plan, const struct gameday *g, struct inventory **plan_inv,
		    struct gd_run_step *steps)
{
	char err[FLEET_ERR_SIZE];
	int bad = 0, rc;

	if (g->inventory) {
		char *path = gd_path(plan, g->inventory);
		struct diag_list dl;

		if (!path || diag_init(&dl, path)) {
			free(path);
			return -ENOMEM;
		}
		rc = inv_load_file(path, plan_inv, &dl);
		if (rc)
			diag_print(stderr, &dl);
		diag_clear(&dl);
		free(path);
		if (rc == -ENOMEM)
			return rc;
		bad += rc != 0;
	}
	for (size_t i = 0; i < g->n_steps; i++) {
		struct gd_run_step *s = &steps[i];
		const struct inventory *inv;

		s->file = gd_path(plan, g->steps[i].experiment);
		if (!s->file)
			return -ENOMEM;
		if (g->inventory)
			rc = load_experiment(s->file, &s->e);
		else
			rc = run_load(s->file, NULL, &s->e, &s->inv);
		if (rc == -ENOMEM)
			return rc;
		if (rc) {
			bad++;
			continue;
		}
		if (g->inventory && !*plan_inv)
			continue; /* its agents cannot be resolved against a broken inventory */
		inv = g->inventory ? *plan_inv : s->inv;
		rc = run_resolve(s->e, inv, err, sizeof(err));
		if (rc == -ENOMEM)
			return rc;
		if (rc) {
			fprintf(stderr, "%s: %s\n", s->file, err);
			bad++;
		}
	}
	return bad;
}

/*
 * Wait for ns or a signal; with ns 0, only take a signal already pending (one that came
 * while the last step's reports were written must not let the next step start). Returns 0,
 * or the signal number that ended the wait.
 */
static int pause_for(int sfd, int64_t ns)
{
	int64_t end = fleet_now_ns() + ns;

	for (;;) {
		int64_t left = end - fleet_now_ns();
		struct pollfd pfd = {.fd = sfd, .events = POLLIN};
		struct signalfd_siginfo si;
		int n;

		n = poll(&pfd, 1, left > 0 ? (int)((left + MS - 1) / MS) : 0);
		if (n <= 0 && left <= 0)
			return 0;
		if (n <= 0)
			continue;
		return read(sfd, &si, sizeof(si)) == sizeof(si) ? (int)si.ssi_signo : SIGINT;
	}
}

/*
 * Ask on the terminal whether to start a step. Returns 1 for yes, 0 for no (any other
 * answer, or end of input), or the negated signal number that interrupted the question.
 */
static int confirm(int tty, int sfd, size_t i, size_t n, const char *file,
		   const struct experiment *e)
{
	char prompt[1024], line[256];
	size_t len = 0;

	snprintf(prompt, sizeof(prompt),
		 "faultctl gameday: step %zu/%zu: %s (%s)\n  hypothesis: %s\nStart it? [y/N] ",
		 i + 1, n, e->name, file, e->hypothesis);
	if (write(tty, prompt, strlen(prompt)) < 0)
		return 0;
	while (len < sizeof(line) - 1) {
		struct pollfd pfd[2] = {{.fd = tty, .events = POLLIN},
					{.fd = sfd, .events = POLLIN}};
		ssize_t r;

		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			return read(sfd, &si, sizeof(si)) == sizeof(si) ? -(int)si.ssi_signo
									: -SIGINT;
		}
		r = read(tty, line + len, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\r'))
		line[--len] = '\0';
	return !strcasecmp(line, "y") || !strcasecmp(line, "yes");
}

/*
 * Exit 3 is shared by a step that failed (an agent, faultctl) and one that was
 * inconclusive (its guardrails could not watch it). The game day is inconclusive when its
 * code is 3 and no step failed outright.
 */
static bool only_inconclusive(const struct gd_run_step *steps, size_t n, int code)
{
	bool any = false;

	if (code != CTL_EXIT_INCONCLUSIVE)
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *oc = json_string_value(json_object_get(steps[i].res.report, "outcome"));

		if (steps[i].state != GS_RAN || steps[i].exit_code != CTL_EXIT_INCONCLUSIVE)
			continue;
		if (!oc || strcmp(oc, "inconclusive"))
			return false;
		any = true;
	}
	return any;
}

static const char *gd_outcome(int code, bool inconclusive)
{
	if (inconclusive)
		return "inconclusive";
	switch (code) {
	case CTL_EXIT_OK:
		return "held";
	case CTL_EXIT_ABORTED:
		return "aborted";
	case CTL_EXIT_INVALID:
		return "invalid";
	case CTL_EXIT_INFRA:
		return "failed";
	case CTL_EXIT_REFUSED:
		return "refused";
	default:
		return "interrupted";
	}
}

static const char *gd_verdict(int code, bool inconclusive)
{
	if (inconclusive)
		return "Inconclusive: the guardrails of a step could not watch it, so there is no "
		       "verdict on its hypothesis; see its report.";
	switch (code) {
	case CTL_EXIT_OK:
		return "Every step's hypothesis held.";
	case CTL_EXIT_ABORTED:
		return "A hypothesis did not hold: a step was aborted by a guardrail or its "
		       "steady state did not recover.";
	case CTL_EXIT_REFUSED:
		return "Not every step ran: the game day or a step was refused (time window, "
		       "unhealthy steady state, or declined by the operator).";
	case CTL_EXIT_INFRA:
	case CTL_EXIT_INVALID:
		return "Inconclusive: an agent or faultctl failed in a step; see its report.";
	default:
		return "Interrupted by the operator; the running step reverted everything.";
	}
}

/*
 * The game day's exit code from its steps' codes: an interruption first, then the most
 * inconclusive (infrastructure, invalid), then refusals, then aborted hypotheses.
 */
static int combine(int have, int code)
{
	static const int rank[] = {[CTL_EXIT_OK] = 0,
				   [CTL_EXIT_ABORTED] = 1,
				   [CTL_EXIT_REFUSED] = 2,
				   [CTL_EXIT_INVALID] = 3,
				   [CTL_EXIT_INFRA] = 4};
	int rh = have > CTL_EXIT_REFUSED ? 5 : rank[have];
	int rc = code > CTL_EXIT_REFUSED ? 5 : rank[code];

	return rc > rh ? code : have;
}

static json_t *ms_since(int64_t t0, int64_t t)
{
	return t ? json_real((double)(t - t0) / 1e6) : json_null();
}

static json_t *report_json(const char *plan, const struct gameday *g,
			   const struct gd_run_step *steps, int code, const char *reason,
			   const struct timespec *t0_real, int64_t t0, int64_t t1)
{
	static const char *const states[] = {
		[GS_NOT_STARTED] = "not_started",
		[GS_RAN] = "ran",
		[GS_DECLINED] = "declined",
	};
	json_t *arr = json_array(), *rep;
	bool inc = only_inconclusive(steps, g->n_steps, code);
	char started[64];

	timefmt_ts_iso(t0_real, started, sizeof(started));
	for (size_t i = 0; arr && i < g->n_steps; i++) {
		const struct gd_run_step *s = &steps[i];
		const struct gd_step *p = &g->steps[i];
		bool ran = s->state == GS_RAN;

		json_array_append_new(
			arr,
			json_pack("{s:I, s:s, s:s, s:o, s:s, s:b, s:o, s:I, s:I, s:s, s:o, s:o, "
				  "s:o, s:o, s:s, s:o}",
				  "index", (json_int_t)(i + 1), "experiment", p->experiment, "file",
				  s->file, "name", s->e ? json_string(s->e->name) : json_null(),
				  "on_failure", gd_on_failure_name(p->on_failure), "confirm",
				  p->confirm, "confirmed_by",
				  s->confirmed_by ? json_string(s->confirmed_by) : json_null(),
				  "pause_before_ms", (json_int_t)(p->pause_before_ns / MS),
				  "pause_after_ms", (json_int_t)(p->pause_after_ns / MS), "state",
				  states[s->state], "outcome",
				  ran && json_object_get(s->res.report, "outcome")
					  ? json_incref(json_object_get(s->res.report, "outcome"))
					  : json_string("failed"),
				  "exit_code", ran ? json_integer(s->exit_code) : json_null(),
				  "started_ms", ran ? ms_since(t0, s->started_ns) : json_null(),
				  "elapsed_ms",
				  ran ? json_real((double)(s->ended_ns - s->started_ns) / 1e6)
				      : json_null(),
				  "reason", s->reason, "report",
				  ran && s->res.report ? json_incref(s->res.report) : json_null()));
	}
	if (!arr)
		return NULL;
	rep = json_pack("{s:i, s:s, s:s, s:{s:s, s:s, s:o}, s:s, s:i, s:s, s:s, s:s, s:f, s:o}",
			"report_version", GD_REPORT_VERSION, "kind", "gameday", "tool",
			"faultctl " FL_VERSION, "gameday", "name", g->name, "file", plan,
			"description", g->description ? json_string(g->description) : json_null(),
			"outcome", gd_outcome(code, inc), "exit_code", code, "reason", reason,
			"verdict", gd_verdict(code, inc), "started_at", started, "elapsed_ms",
			(double)(t1 - t0) / 1e6, "steps", arr);
	return rep;
}

/* Mark the steps from i on as not started, for why. */
static void not_started(struct gd_run_step *steps, size_t i, size_t n, const char *why)
{
	for (; i < n; i++)
		if (steps[i].state == GS_NOT_STARTED)
			snprintf(steps[i].reason, sizeof(steps[i].reason), "%.500s", why);
}

static int open_tty(const struct gameday *g, const struct run_cmdline *o, const char *plan,
		    int *tty)
{
	size_t i;

	*tty = -1;
	for (i = 0; i < g->n_steps && !g->steps[i].confirm; i++)
		;
	if (i == g->n_steps || o->yes)
		return 0;
	/* Asked on the terminal itself, so that piped input or output never answers. */
	*tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (*tty >= 0)
		return 0;
	fprintf(stderr,
		"faultctl gameday: %s: steps[%zu] asks for confirmation (confirm: true) but "
		"there is no terminal to ask on (/dev/tty: %s); run it from a terminal or pass "
		"--yes\n",
		plan, i, strerror(errno));
	return -ENXIO;
}

/* One game day's state, from the command line to the report. */
struct gd_state {
	struct run_cmdline o;
	struct gameday *g;
	struct inventory *plan_inv;
	struct gd_run_step *steps;
	FILE *view;   /* the progress lines: stderr when the report goes to stdout */
	int tty;      /* /dev/tty for the confirmations, or -1 */
	int sfd;      /* the signalfd of SIGINT and SIGTERM, or -1 */
	int code;     /* the game day's exit code so far (combine()) */
	bool stopped; /* a step failed with on_failure: stop */
	char reason[512];
};

/* What the loop over the steps does after one of them. */
enum gd_next {
	GD_NEXT,  /* go on with the next step */
	GD_END,	  /* no further step: st->reason and st->code say why */
	GD_ERROR, /* the game day cannot go on: the exit code is returned */
};

/* Set the reason and exit code of a game day a signal ends, WHEN "before", "after" ... */
static void interrupted(struct gd_state *st, int sig, const char *when, size_t i, const char *name)
{
	snprintf(st->reason, sizeof(st->reason), "interrupted by %s %s step %zu%s%s%s",
		 sig == SIGTERM ? "SIGTERM" : "SIGINT", when, i + 1, name ? " (" : "", name ?: "",
		 name ? ")" : "");
	st->code = 128 + sig;
}

/*
 * Parse, load and check everything before anything runs: the plan, every step's experiment
 * and inventory, the terminal for confirmations, the signals. 0, or the exit code.
 */
static int gd_prepare(struct gd_state *st, int argc, char **argv)
{
	struct diag_list dl;
	int rc;

	rc = run_cmdline_parse(&gd_cmdline, argc, argv, &st->o);
	if (rc)
		return rc > 0 ? CTL_EXIT_OK : CTL_EXIT_INVALID;
	if (diag_init(&dl, st->o.file))
		return CTL_EXIT_INFRA;
	rc = gd_load_file(st->o.file, &st->g, &dl);
	if (rc)
		diag_print(stderr, &dl);
	diag_clear(&dl);
	if (rc)
		return rc == -ENOMEM ? CTL_EXIT_INFRA : CTL_EXIT_INVALID;
	st->steps = calloc(st->g->n_steps, sizeof(*st->steps));
	if (!st->steps)
		return CTL_EXIT_INFRA;
	rc = load_all(st->o.file, st->g, &st->plan_inv, st->steps);
	if (rc) {
		if (rc > 0)
			fprintf(stderr,
				"faultctl gameday: %s: %d invalid input%s; nothing was run\n",
				st->o.file, rc, rc == 1 ? "" : "s");
		return rc < 0 ? CTL_EXIT_INFRA : CTL_EXIT_INVALID;
	}
	if (open_tty(st->g, &st->o, st->o.file, &st->tty))
		return CTL_EXIT_INVALID;
	/* Before any thread exists, so that every thread inherits the mask. */
	st->sfd = run_signals();
	if (st->sfd < 0) {
		fprintf(stderr, "faultctl gameday: cannot set up signals: %s\n",
			strerror(-st->sfd));
		return CTL_EXIT_INFRA;
	}
	return 0;
}

/* Is the plan's window open for step i? GD_NEXT when it is (or there is none). */
static enum gd_next gd_check_window(struct gd_state *st, size_t i, int *ret)
{
	char why[FLEET_ERR_SIZE];
	bool open;
	int rc;

	if (!st->g->window)
		return GD_NEXT;
	rc = run_window_open(st->g->window, "window", &open, why, sizeof(why));
	if (rc) {
		fprintf(stderr, "faultctl gameday: %s: %s\n", st->o.file,
			rc == -ENOMEM ? "out of memory" : why);
		*ret = rc == -ENOMEM ? CTL_EXIT_INFRA : CTL_EXIT_INVALID;
		return GD_ERROR;
	}
	if (open)
		return GD_NEXT;
	snprintf(st->reason, sizeof(st->reason), "refusing to start %s: %.400s",
		 i ? "the next step" : "the game day", why);
	fprintf(stderr, "faultctl gameday: %s\n", st->reason);
	st->code = combine(st->code, CTL_EXIT_REFUSED);
	return GD_END;
}

/* The pause before step i and its confirmation, if the plan asks for them. */
static enum gd_next gd_before_step(struct gd_state *st, size_t i)
{
	const struct gd_step *p = &st->g->steps[i];
	struct gd_run_step *s = &st->steps[i];
	int sig, rc;

	if (p->pause_before_ns) {
		fprintf(st->view, "game day: pausing %.1f s before step %zu\n",
			p->pause_before_ns / 1e9, i + 1);
		fflush(st->view);
	}
	sig = pause_for(st->sfd, p->pause_before_ns);
	if (!sig && p->confirm) {
		if (st->o.yes) {
			s->confirmed_by = "--yes";
		} else {
			rc = confirm(st->tty, st->sfd, i, st->g->n_steps, s->file, s->e);
			if (rc < 0) {
				sig = -rc;
			} else if (!rc) {
				s->state = GS_DECLINED;
				snprintf(s->reason, sizeof(s->reason), "declined by the operator");
				snprintf(st->reason, sizeof(st->reason),
					 "step %zu (%s) declined by the operator", i + 1,
					 s->e->name);
				st->code = combine(st->code, CTL_EXIT_REFUSED);
				return GD_END;
			} else {
				s->confirmed_by = "terminal";
			}
		}
	}
	if (sig) {
		interrupted(st, sig, "before", i, NULL);
		return GD_END;
	}
	return GD_NEXT;
}

/* Run step i as `faultctl run` would, then what its outcome and the plan say comes next. */
static enum gd_next gd_run_step(struct gd_state *st, size_t i)
{
	const struct gd_step *p = &st->g->steps[i];
	struct gd_run_step *s = &st->steps[i];
	const char *outcome;
	int sig;

	fprintf(st->view, "game day: step %zu/%zu: %s (%s)\n", i + 1, st->g->n_steps, s->e->name,
		s->file);
	fflush(st->view);
	s->state = GS_RAN;
	s->started_ns = fleet_now_ns();
	s->exit_code =
		run_execute(&(struct run_spec){.e = s->e,
					       .inv = st->g->inventory ? st->plan_inv : s->inv,
					       .file = s->file,
					       .view = st->view,
					       .sfd = st->sfd,
					       .cmd = "faultctl gameday"},
			    &s->res);
	s->ended_ns = fleet_now_ns();
	snprintf(s->reason, sizeof(s->reason), "%s",
		 json_string_value(json_object_get(s->res.report, "reason")) ?: "");
	st->code = combine(st->code, s->exit_code);
	outcome = json_string_value(json_object_get(s->res.report, "outcome")) ?: "failed";
	fprintf(st->view, "game day: step %zu/%zu: %s: %s (exit %d)\n", i + 1, st->g->n_steps,
		s->e->name, outcome, s->exit_code);
	if (s->exit_code > CTL_EXIT_REFUSED || s->res.signal) {
		/*
		 * Also a run that a guardrail had aborted already, interrupted while it waited
		 * for the recovery: it keeps its outcome, but the operator asked the game day
		 * to stop.
		 */
		sig = s->res.signal ? s->res.signal : s->exit_code - 128;
		interrupted(st, sig, "during", i, s->e->name);
		return GD_END;
	}
	/* After the last step there is nothing to stop; the summary names it. */
	if (s->exit_code != CTL_EXIT_OK && p->on_failure == GD_STOP && i + 1 < st->g->n_steps) {
		snprintf(st->reason, sizeof(st->reason), "step %zu (%s) %s; on_failure: stop",
			 i + 1, s->e->name, outcome);
		st->stopped = true;
		return GD_NEXT;
	}
	if (i + 1 < st->g->n_steps && p->pause_after_ns) {
		fprintf(st->view, "game day: pausing %.1f s after step %zu\n",
			p->pause_after_ns / 1e9, i + 1);
		fflush(st->view);
		sig = pause_for(st->sfd, p->pause_after_ns);
		if (sig) {
			interrupted(st, sig, "after", i, NULL);
			return GD_END;
		}
	}
	return GD_NEXT;
}

/*
 * The game day's reason once the loop is over: the steps that did not start say why, or,
 * when every step ran (on_failure: continue), the reason names the ones that did not hold.
 */
static void gd_summarize(struct gd_state *st)
{
	size_t len = 0;

	if (st->reason[0]) {
		char later[600];

		snprintf(later, sizeof(later), "not started: %.500s", st->reason);
		not_started(st->steps, 0, st->g->n_steps, later);
		return;
	}
	if (st->code == CTL_EXIT_OK)
		return;
	for (size_t k = 0; k < st->g->n_steps && len < sizeof(st->reason); k++) {
		const struct gd_run_step *s = &st->steps[k];

		if (s->state != GS_RAN || s->exit_code == CTL_EXIT_OK)
			continue;
		len += (size_t)snprintf(st->reason + len, sizeof(st->reason) - len,
					"%sstep %zu (%s) %s", len ? ", " : "", k + 1, s->e->name,
					json_string_value(json_object_get(s->res.report, "outcome"))
						?: "failed");
	}
}

/* The report: built, summarized on the view, written where asked. Returns the exit code. */
static int gd_report(struct gd_state *st, bool json, const struct timespec *t0_real, int64_t t0)
{
	json_t *rep;
	int ret = st->code;

	rep = report_json(st->o.file, st->g, st->steps, st->code, st->reason, t0_real, t0,
			  fleet_now_ns());
	fprintf(st->view, "game day %s: %s%s%s\n", st->g->name,
		gd_outcome(st->code, only_inconclusive(st->steps, st->g->n_steps, st->code)),
		st->reason[0] ? ": " : "", st->reason);
	if (!rep) {
		fprintf(stderr, "faultctl gameday: out of memory building the report\n");
		ret = CTL_EXIT_INFRA;
	} else if (run_cmdline_write(&gd_cmdline, &st->o, rep, json) && ret == CTL_EXIT_OK) {
		ret = CTL_EXIT_INFRA;
	}
	json_decref(rep);
	return ret;
}

static void gd_state_free(struct gd_state *st)
{
	if (st->sfd >= 0)
		close(st->sfd);
	if (st->tty >= 0)
		close(st->tty);
	for (size_t k = 0; st->steps && k < st->g->n_steps; k++) {
		json_decref(st->steps[k].res.report);
		inv_free(st->steps[k].inv);
		free(st->steps[k].file);
		/* Checks abandoned on a signal may still read their probes until exit. */
		if (!st->steps[k].res.abandoned)
			exp_free(st->steps[k].e);
	}
	free(st->steps);
	inv_free(st->plan_inv);
	gd_free(st->g);
}

int cmd_gameday(const struct ctl_opts *opts, int argc, char **argv)
{
	struct gd_state st = {.tty = -1, .sfd = -1, .code = CTL_EXIT_OK};
	enum gd_next next = GD_NEXT;
	struct timespec t0_real;
	int ret;
	int64_t t0;

	ret = gd_prepare(&st, argc, argv);
	if (ret || !st.g)
		goto out;
	st.view = opts->json || st.o.json ? stderr : stdout;
	t0 = fleet_now_ns();
	clock_gettime(CLOCK_REALTIME, &t0_real);
	fprintf(st.view, "game day %s: %zu step%s (%s)\n", st.g->name, st.g->n_steps,
		st.g->n_steps == 1 ? "" : "s", st.o.file);
	for (size_t i = 0; i < st.g->n_steps && !st.stopped && next == GD_NEXT; i++) {
		next = gd_check_window(&st, i, &ret);
		if (next == GD_NEXT)
			next = gd_before_step(&st, i);
		if (next == GD_NEXT)
			next = gd_run_step(&st, i);
	}
	if (next == GD_ERROR)
		goto out;
	gd_summarize(&st);
	ret = gd_report(&st, opts->json || st.o.json, &t0_real, t0);
out:
	gd_state_free(&st);
	return ret;
}
