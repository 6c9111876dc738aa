/*
 * faultctl guard: watch an experiment's guardrails for a while without injecting anything,
 * to try thresholds and debounces against the real system before a run relies on them.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cmdline.h"
#include "ctl.h"
#include "diag.h"
#include "exp.h"
#include "guard.h"

/* What the command line sets, over the defaults cmd_guard() puts in. */
struct guard_cmdline {
	int64_t for_ns; /* 0: the experiment's duration */
	bool json;
};

static const struct ctl_opt guard_opts[] = {
	{.name = "for",
	 .kind = CTL_OPT_DURATION,
	 .arg = "DURATION",
	 .offset = offsetof(struct guard_cmdline, for_ns),
	 .help = "how long to watch (default: the experiment's duration)"},
	{.name = "json",
	 .kind = CTL_OPT_FLAG,
	 .offset = offsetof(struct guard_cmdline, json),
	 .help = "at the end, one JSON document on stdout: {\"breached\",\n"
		 "\"start_realtime_ns\", \"elapsed_ns\", \"first_breach\",\n"
		 "\"guardrails\": [status...], \"woken_ns\"}; woken_ns: when the\n"
		 "breach woke the main loop; times in the statuses are\n"
		 "relative to the start, which start_realtime_ns gives\n"
		 "(CLOCK_REALTIME)"},
	{.name = "help", .short_name = 'h', .kind = CTL_OPT_HELP},
	{0},
};

static const struct ctl_cmdline guard_cmdline = {
	.cmd = "faultctl guard",
	.head = "Usage: faultctl [--json] guard FILE [--for DURATION] [--json]\n"
		"\n"
		"Evaluate the guardrails of an experiment file continuously, exactly as a run\n"
		"would (each in its own thread, with its for: debounce and on_error policy), but\n"
		"inject nothing and contact no agent. One line is printed whenever a guardrail\n"
		"changes between healthy, unhealthy and probe error, and one when it is\n"
		"breached, with times since the start (t+SECONDS). It stops at the first breach,\n"
		"after DURATION, or on SIGINT/SIGTERM.\n"
		"\n",
	.tail = "Exit status: 0 no guardrail breached, 1 a guardrail breached, 2 invalid input,\n"
		"3 faultctl could not start the guardrails, 130/143 interrupted by\n"
		"SIGINT/SIGTERM before any breach (the --json document is still printed).\n",
	.opts = guard_opts,
};

void cmd_guard_usage(void)
{
	ctl_cmdline_usage(&guard_cmdline);
}

/* 0 healthy, 1 unhealthy, 2 probe error, -1 no reading yet. */
static int state_of(const struct guard_status *st)
{
	if (!st->last.time_ns)
		return -1;
	return !st->last.valid ? 2 : st->last.healthy ? 0 : 1;
}

static double rel(int64_t t, int64_t start)
{
	return t ? (double)(t - start) / 1e9 : 0;
}

static void rebase(struct guard_reading *r, int64_t start)
{
	if (r->time_ns)
		r->time_ns -= start;
}

/* One watch: the guardrails, their threads, what was last printed, the clock. */
struct guard_watch {
	struct experiment *e;
	struct guardset *set;
	int *state;    /* per guardrail: the state last printed (state_of()), -1 none */
	int wake;      /* eventfd the guardset signals a breach on */
	int sfd;       /* signalfd of SIGINT and SIGTERM */
	int64_t start; /* guard_now_ns() at the start */
	int64_t end;
	int64_t woken; /* when the breach woke the loop, or 0 */
	bool json;
};

/* The experiment file at path, with guardrails. 0, or the exit code once it is printed. */
static int guard_load(const char *path, struct experiment **e)
{
	struct diag_list dl;
	int err;

	if (diag_init(&dl, path))
		goto nomem;
	err = exp_load_file(path, e, &dl);
	if (err && err != -ENOMEM)
		diag_print(stderr, &dl);
	diag_clear(&dl);
	if (err == -ENOMEM)
		goto nomem;
	if (err)
		return CTL_EXIT_INVALID;
	if (!(*e)->n_guardrails) {
		fprintf(stderr, "faultctl guard: %s: no guardrails\n", path);
		exp_free(*e);
		*e = NULL;
		return CTL_EXIT_INVALID;
	}
	return 0;
nomem:
	fprintf(stderr, "faultctl guard: out of memory\n");
	return CTL_EXIT_INFRA;
}

/* One line per guardrail whose state changed since the last pass (not with --json). */
static void guard_print_changes(struct guard_watch *w)
{
	static const char *const names[] = {"healthy", "unhealthy", "probe error"};
	struct guard_status st;

	for (size_t i = 0; i < w->e->n_guardrails && !w->json; i++) {
		int s;

		guardset_status(w->set, i, &st);
		s = state_of(&st);
		if (s == w->state[i] || s < 0)
			continue;
		w->state[i] = s;
		printf("t+%.3fs %s: %s: %s\n", rel(st.last.time_ns, w->start), st.name, names[s],
		       st.last.summary);
		fflush(stdout);
	}
}

/* A signal on the signalfd ends the watch: 128 + its number, as run and gameday exit. */
static int guard_interrupted(struct guard_watch *w)
{
	struct signalfd_siginfo si;
	int sig = SIGINT;

	/* Consume it: restoring the mask below would deliver it again. */
	if (read(w->sfd, &si, sizeof(si)) == sizeof(si))
		sig = (int)si.ssi_signo;
	else
		fprintf(stderr, "faultctl guard: signalfd: %s\n", strerror(errno));
	fprintf(stderr, "faultctl guard: interrupted by %s at t+%.3fs, no breach\n",
		sig == SIGTERM ? "SIGTERM" : "SIGINT", rel(guard_now_ns(), w->start));
	return 128 + sig;
}

/*
 * Watch until the first breach, the end or a signal; the exit code. Bounded by --for; wakes
 * on a breach, a signal, or every 100 ms to print changes.
 */
static int guard_watch_loop(struct guard_watch *w)
{
	struct guard_status st;
	int64_t polled;

	for (;;) {
		struct pollfd pf[2] = {{.fd = w->wake, .events = POLLIN},
				       {.fd = w->sfd, .events = POLLIN}};
		int64_t now = guard_now_ns(), left = w->end - now;
		int ms = left <= 0 ? 0 : left > 100000000 ? 100 : (int)((left + 999999) / 1000000);

		if (poll(pf, 2, ms) < 0 && errno != EINTR) {
			fprintf(stderr, "faultctl guard: poll: %s\n", strerror(errno));
			return CTL_EXIT_INFRA;
		}
		polled = guard_now_ns();
		guard_print_changes(w);
		/* Only once wake_fd says so: a breach decided after poll() returned is seen on
		 * the next pass, which the readable eventfd makes immediate.
		 */
		if (pf[0].revents && guardset_breached(w->set, &st) >= 0) {
			/* What a run loop would see: when the wake_fd woke it after the breach. */
			w->woken = polled;
			if (!w->json)
				printf("t+%.3fs %s: BREACHED: %s (sample at t+%.3fs, noticed %lld "
				       "us "
				       "after the breach)\n",
				       rel(st.breach_ns, w->start), st.name, st.breach.summary,
				       rel(st.breach.time_ns, w->start),
				       (long long)(w->woken - st.breach_ns) / 1000);
			return CTL_EXIT_ABORTED;
		}
		if (pf[1].revents)
			return guard_interrupted(w);
		if (guard_now_ns() >= w->end)
			return CTL_EXIT_OK;
	}
}

/* The --json document on stdout; ret, or CTL_EXIT_INFRA when it cannot be built. */
static int guard_print_json(struct guard_watch *w, const struct timespec *wall, int ret)
{
	json_t *arr = json_array(), *doc;
	int64_t elapsed = guard_now_ns() - w->start;
	struct guard_status st;
	int first;

	first = guardset_breached(w->set, &st);
	for (size_t i = 0; arr && i < w->e->n_guardrails; i++) {
		guardset_status(w->set, i, &st);
		rebase(&st.last, w->start);
		rebase(&st.breach, w->start);
		if (st.breach_ns)
			st.breach_ns -= w->start;
		if (st.unhealthy_since_ns)
			st.unhealthy_since_ns -= w->start;
		if (json_array_append_new(arr, guard_status_json(&st))) {
			json_decref(arr);
			arr = NULL;
		}
	}
	doc = arr ? json_pack("{s:b, s:I, s:I, s:o, s:o, s:o}", "breached", first >= 0,
			      "start_realtime_ns",
			      (json_int_t)wall->tv_sec * 1000000000 + wall->tv_nsec, "elapsed_ns",
			      (json_int_t)elapsed, "first_breach",
			      first >= 0 ? json_string(w->e->guardrails[first].name) : json_null(),
			      "guardrails", arr, "woken_ns",
			      w->woken ? json_integer(w->woken - w->start) : json_null())
		  : NULL;
	if (!doc) {
		fprintf(stderr, "faultctl guard: out of memory\n");
		return CTL_EXIT_INFRA;
	}
	json_dumpf(doc, stdout, JSON_INDENT(2));
	printf("\n");
	json_decref(doc);
	return ret;
}

int cmd_guard(const struct ctl_opts *opts, int argc, char **argv)
{
	struct guard_cmdline args = {.json = opts->json};
	struct guard_watch w = {.wake = -1, .sfd = -1};
	struct timespec wall = {0};
	sigset_t mask, old;
	int c, err, ret;

	c = ctl_cmdline_parse(&guard_cmdline, argc, argv, &args);
	if (c <= 0)
		return c ? CTL_EXIT_INVALID : CTL_EXIT_OK;
	w.json = args.json;
	if (argc - c != 1) {
		fprintf(stderr, "faultctl guard: expected exactly one experiment file\n");
		return CTL_EXIT_INVALID;
	}
	ret = guard_load(argv[c], &w.e);
	if (ret)
		return ret;
	w.state = calloc(w.e->n_guardrails, sizeof(*w.state));
	if (!w.state) {
		fprintf(stderr, "faultctl guard: out of memory\n");
		ret = CTL_EXIT_INFRA;
		goto out_exp;
	}
	for (size_t i = 0; i < w.e->n_guardrails; i++)
		w.state[i] = -1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	/* Blocked before the guard threads exist, so they inherit the mask and only the
	 * signalfd below sees these signals.
	 */
	pthread_sigmask(SIG_BLOCK, &mask, &old);
	ret = CTL_EXIT_INFRA;
	w.sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	w.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w.sfd < 0 || w.wake < 0) {
		fprintf(stderr, "faultctl guard: %s\n", strerror(errno));
		goto out_fds;
	}
	clock_gettime(CLOCK_REALTIME, &wall);
	w.start = guard_now_ns();
	err = guardset_start(w.e->guardrails, w.e->n_guardrails, w.wake, &w.set);
	if (err) {
		fprintf(stderr, "faultctl guard: cannot start guardrails: %s\n", strerror(-err));
		goto out_fds;
	}
	w.end = w.start + (args.for_ns ? args.for_ns : w.e->duration_ns);
	ret = guard_watch_loop(&w);
	if (w.json)
		ret = guard_print_json(&w, &wall, ret);
	guardset_stop(w.set);
out_fds:
	if (w.wake >= 0)
		close(w.wake);
	if (w.sfd >= 0)
		close(w.sfd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(w.state);
out_exp:
	exp_free(w.e);
	return ret;
}
