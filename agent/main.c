/* faultlined: the faultline fault-injection agent. */
#include <errno.h>
#include <getopt.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>

#include <bpf/libbpf.h>

#include <grp.h>

#include "addr.h"
#include "agent.h"
#include "audit.h"
#include "caps.h"
#include "container.h"
#include "core.h"
#include "priority.h"
#include "events.h"
#include "fault.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "policy.h"
#include "server.h"
#include "statelock.h"
#include "stressor.h"
#include "units.h"
#include "version.h"
#include "watchdog.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: faultlined [OPTIONS]\n"
		   "\n"
		   "The faultline agent: injects faults on this host on behalf of faultctl.\n"
		   "It runs in the foreground; under systemd use --systemd (Type=notify).\n"
		   "\n"
		   "  -s, --socket PATH      API socket (default " AGENT_DEFAULT_SOCKET ")\n"
		   "      --state-dir DIR    journal location (default " AGENT_DEFAULT_STATE_DIR ")\n"
		   "      --audit-log PATH   audit log (default " AGENT_DEFAULT_AUDIT_LOG ")\n"
		   "      --audit-summary-interval DURATION\n"
		   "                         read-only requests are audited as one line per client\n"
		   "                         and interval, 1s to 1h (default 1m); 0 records each\n"
		   "                         on a line of its own\n"
		   "      --lease-ttl MS     default lease TTL in milliseconds (default 5000)\n"
		   "      --policy PATH      agent policy (default " POLICY_DEFAULT_PATH "; a missing\n"
		   "                         file means the built-in policy, an invalid one is fatal)\n"
		   "      --cleanup          only undo what the journal lists from an earlier run,\n"
		   "                         report it and exit (for ExecStopPost= and break-glass)\n"
		   "      --metrics ADDR:PORT  serve Prometheus metrics on a loopback address\n"
		   "                         (127.0.0.0/8 or [::1]); off by default\n"
		   "      --request-timeout MS  a request (head and body) must arrive within MS of\n"
		   "                         its first byte, or the connection is closed\n"
		   "                         (default 10000)\n"
		   "      --max-connections N  API connections at once (default 256); beyond,\n"
		   "                         503 and the connection is closed\n"
		   "      --nice N           scheduling priority of the agent, -20..19 (default -10):\n"
		   "                         leases must expire on time on a host the experiment\n"
		   "                         loads; stressor processes run at 0 in a cpu\n"
		   "                         group of their own; a session leader's autogroup\n"
		   "                         gets N too\n"
		   "      --loop-realtime    run the event loop thread at SCHED_RR 1 (off by\n"
		   "                         default: it slows concurrent applies on a host with\n"
		   "                         many agents; see faultlined(8))\n"
		   "      --container-engines PATHS  Docker Engine API sockets (docker, podman\n"
		   "                         system service) that name containers, comma-separated\n"
		   "                         (default " CTR_DEFAULT_ENGINES ")\n"
		   "      --systemd          journald-style log lines and sd_notify readiness\n"
		   "  -l, --log-level LEVEL  error, warn, info (default) or debug\n"
		   "  -h, --help             this help\n"
		   "      --version          print the version\n"
		   "\n"
		   "SIGTERM or SIGINT revert every fault, remove the socket and exit 0;\n"
		   "a second signal exits at once (the journal is always consistent).\n"
		   "SIGHUP reopens the audit log (after logrotate); SIGUSR1, SIGUSR2 and\n"
		   "SIGPIPE are ignored. One agent or --cleanup at a time per state directory\n"
		   "(STATE_DIR/lock): another is refused with the holder's pid.\n"
		   "Exit status: 0 ok, 1 runtime failure (or --cleanup could not undo\n"
		   "everything), 2 bad command line.\n");
}

static __attribute__((format(printf, 2, 0))) int libbpf_print(enum libbpf_print_level level,
							      const char *fmt, va_list ap)
{
	enum log_level lvl = level == LIBBPF_WARN ? LOG_LVL_WARN :
			     level == LIBBPF_INFO ? LOG_LVL_INFO :
						    LOG_LVL_DEBUG;

	/* libbpf warns about things the probe expects to fail; keep them at debug level. */
	if (lvl < LOG_LVL_DEBUG)
		lvl = LOG_LVL_DEBUG;
	log_vmsg(lvl, fmt, ap);
	return 0;
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct agent *a = h->data;

	if (a->stopping) {
		log_warn("second %s: exiting now", strsignal(signum));
		_exit(1);
	}
	a->stopping = 1;
	log_info("%s: stopping", strsignal(signum));
	notify_systemd("STOPPING=1");
	server_close(a->server);
	a->server = NULL;
	if (core_revert_all(a, "the agent is stopping"))
		log_err("some faults could not be reverted; their journal records are kept for "
			"the next start or faultlined --cleanup");
	/* Lease and duration timers would keep the loop alive: release them now. */
	core_free(a);
	metrics_close(a->metrics_server);
	a->metrics_server = NULL;
	/* No request can come any more: the summary of the last interval is written now. */
	audit_summary_stop(a->audit);
	/* Signal handles stay referenced for a forced second stop; unref so the loop can end. */
	uv_unref((uv_handle_t *)&a->sig_term);
	uv_unref((uv_handle_t *)&a->sig_int);
}

static void on_hup(uv_signal_t *h, int signum)
{
	struct agent *a = h->data;
	int err;

	(void)signum;
	err = audit_reopen(a->audit);
	if (err)
		log_err("SIGHUP: cannot reopen the audit log %s: %s; still writing the old file",
			a->audit_path, strerror(-err));
	else
		log_info("SIGHUP: audit log %s reopened", a->audit_path);
}

static void on_usr(uv_signal_t *h, int signum)
{
	(void)h;
	log_info("%s: ignored", strsignal(signum));
}

/*
 * Handlers rather than SIG_IGN: a disposition set to SIG_IGN would be inherited across
 * execve by the stressor workers. Unreferenced: they must not keep the loop alive at stop.
 */
static void watch_signal(struct agent *a, uv_signal_t *h, uv_signal_cb cb, int signum)
{
	uv_signal_init(a->loop, h);
	h->data = a;
	uv_signal_start(h, cb, signum);
	uv_unref((uv_handle_t *)h);
}

static int parse_uint(const char *opt, const char *arg, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!*arg || *end || *arg == '-' || errno || v < min || v > max) {
		fprintf(stderr, "faultlined: %s: '%s' is not a number in [%lu, %lu]\n", opt, arg,
			min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static void log_probe(const struct agent *a)
{
	if (a->probe_err) {
		log_warn("mechanism probe could not run: %s", strerror(-a->probe_err));
		return;
	}
	for (int i = 0; i < PROBE__COUNT; i++) {
		if (a->probe.r[i].available)
			log_info("mechanism %s: available", probe_name(i));
		else
			log_info("mechanism %s: unavailable: %s", probe_name(i),
				 a->probe.r[i].reason);
	}
}

/* Once the capabilities are settled: which fault types cannot be applied here, and why. */
static void log_unavailable(const struct agent *a)
{
	for (size_t i = 0; fault_ops_all[i]; i++) {
		char why[256];

		if (fault_type_available(a, fault_ops_all[i], why, sizeof(why)))
			log_info("fault type %s: unavailable: %s", fault_ops_all[i]->name, why);
	}
}

/*
 * A missing default policy file means the built-in policy; a missing explicit one, or an
 * invalid one, stops the agent: it must never run with less protection than intended.
 */
static int load_policy(struct agent *a, int explicit_policy)
{
	struct diag_list diags;
	int err;

	if (diag_init(&diags, a->policy_path))
		return -ENOMEM;
	err = policy_load_file(a->policy_path, &a->policy, &diags);
	if (err == -ENOENT && !explicit_policy) {
		log_info("no policy file %s: using the built-in policy", a->policy_path);
		a->policy_path = NULL;
		err = policy_default(&a->policy);
	} else if (err) {
		diag_sort(&diags);
		if (err == -ENOENT)
			log_err("policy file %s: %s", a->policy_path, strerror(ENOENT));
		for (size_t i = 0; i < diags.count; i++) {
			const struct diag *d = &diags.items[i];

			if (d->line)
				log_err("%s:%u:%u: %s%s%s", a->policy_path, d->line, d->column,
					d->path, d->path[0] ? ": " : "", d->message);
			else
				log_err("%s: %s%s%s", a->policy_path, d->path, d->path[0] ? ": " : "",
					d->message);
		}
		log_err("invalid policy: not starting");
		err = err == -ENOENT ? -EINVAL : err;
	} else {
		log_info("policy loaded from %s", a->policy_path);
	}
	diag_clear(&diags);
	return err;
}

/* What the command line asks for; parse_options() fills it, nothing else writes it. */
struct settings {
	const char *socket_path;
	const char *state_dir;
	const char *audit_path;
	const char *policy_path;
	const char *metrics_addr; /* NULL: no metrics endpoint */
	const char *container_engines; /* NULL: CTR_DEFAULT_ENGINES */
	uint64_t lease_ttl_ms;
	uint64_t audit_summary_ms;
	unsigned long request_timeout_ms;
	unsigned long max_conns;
	enum log_level log_level;
	int nice_level;
	bool systemd;
	bool cleanup_only;
	bool explicit_policy;
	bool loop_realtime;
};

static const struct option longopts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "systemd", no_argument, NULL, 'S' },
	{ "state-dir", required_argument, NULL, 'D' },
	{ "audit-log", required_argument, NULL, 'A' },
	{ "audit-summary-interval", required_argument, NULL, 'I' },
	{ "lease-ttl", required_argument, NULL, 'T' },
	{ "cleanup", no_argument, NULL, 'C' },
	{ "policy", required_argument, NULL, 'P' },
	{ "metrics", required_argument, NULL, 'M' },
	{ "log-level", required_argument, NULL, 'l' },
	{ "nice", required_argument, NULL, 'N' },
	{ "loop-realtime", no_argument, NULL, 'Q' },
	{ "request-timeout", required_argument, NULL, 'R' },
	{ "max-connections", required_argument, NULL, 'K' },
	{ "container-engines", required_argument, NULL, 'E' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};

static int parse_audit_summary(const char *arg, uint64_t *out)
{
	char why[256];
	int64_t ns;

	if (units_parse_duration(arg, &ns, why, sizeof(why))) {
		fprintf(stderr, "faultlined: --audit-summary-interval: %s\n", why);
		return -EINVAL;
	}
	if (ns && (ns < 1000000000LL || ns > 3600000000000LL)) {
		fprintf(stderr,
			"faultlined: --audit-summary-interval: '%s' is out of range "
			"(0, or 1s to 1h)\n",
			arg);
		return -EINVAL;
	}
	*out = (uint64_t)(ns / 1000000);
	return 0;
}

static int parse_lease_ttl(const char *arg, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(arg, &end, 10);

	if (*end || v < LEASE_TTL_MIN_MS || v > LEASE_TTL_MAX_MS) {
		fprintf(stderr,
			"faultlined: --lease-ttl: '%s' is not a number of "
			"milliseconds in [%d, %d]\n",
			arg, LEASE_TTL_MIN_MS, LEASE_TTL_MAX_MS);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_nice(const char *arg, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (!*arg || *end || v < -20 || v > 19) {
		fprintf(stderr, "faultlined: --nice: '%s' is not a number in [-20, 19]\n", arg);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

static int parse_log_level(const char *arg, enum log_level *out)
{
	if (log_level_parse(arg, out)) {
		fprintf(stderr, "faultlined: --log-level: unknown level '%s' "
				"(error, warn, info, debug)\n",
			arg);
		return -EINVAL;
	}
	return 0;
}

/* One option of the table above into s; 0 or -EINVAL once the error is printed. */
static int parse_option(int c, const char *arg, struct settings *s)
{
	switch (c) {
	case 's':
		s->socket_path = arg;
		return 0;
	case 'S':
		s->systemd = true;
		return 0;
	case 'D':
		s->state_dir = arg;
		return 0;
	case 'A':
		s->audit_path = arg;
		return 0;
	case 'C':
		s->cleanup_only = true;
		return 0;
	case 'I':
		return parse_audit_summary(arg, &s->audit_summary_ms);
	case 'M':
		s->metrics_addr = arg;
		return 0;
	case 'P':
		s->policy_path = arg;
		s->explicit_policy = true;
		return 0;
	case 'T':
		return parse_lease_ttl(arg, &s->lease_ttl_ms);
	case 'Q':
		s->loop_realtime = true;
		return 0;
	case 'N':
		return parse_nice(arg, &s->nice_level);
	case 'R':
		return parse_uint("--request-timeout", arg, 100, 3600000, &s->request_timeout_ms);
	case 'K':
		return parse_uint("--max-connections", arg, 1, 65536, &s->max_conns);
	case 'E':
		s->container_engines = arg;
		return 0;
	case 'l':
		return parse_log_level(arg, &s->log_level);
	default:
		usage(stderr);
		return -EINVAL;
	}
}

/*
 * The command line into s. 0, or -EINVAL (exit 2) once the error is printed; *done is set
 * when --help or --version answered and the agent has nothing else to do (exit 0).
 */
static int parse_options(int argc, char **argv, struct settings *s, bool *done)
{
	int c, err;

	*s = (struct settings){
		.socket_path = AGENT_DEFAULT_SOCKET,
		.state_dir = AGENT_DEFAULT_STATE_DIR,
		.audit_path = AGENT_DEFAULT_AUDIT_LOG,
		.policy_path = POLICY_DEFAULT_PATH,
		.lease_ttl_ms = LEASE_TTL_DEFAULT_MS,
		.audit_summary_ms = AUDIT_SUMMARY_INTERVAL_MS,
		.request_timeout_ms = SERVER_DEFAULT_REQUEST_TIMEOUT_MS,
		.max_conns = SERVER_DEFAULT_MAX_CONNS,
		.log_level = LOG_LVL_INFO,
		.nice_level = AGENT_DEFAULT_NICE,
	};
	*done = false;
	while ((c = getopt_long(argc, argv, "s:l:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			*done = true;
			return 0;
		}
		if (c == 'V') {
			printf("faultlined %s\n", FL_VERSION);
			*done = true;
			return 0;
		}
		err = parse_option(c, optarg, s);
		if (err)
			return err;
	}
	if (optind < argc) {
		fprintf(stderr, "faultlined: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (s->socket_path[0] != '/') {
		fprintf(stderr, "faultlined: --socket: '%s' is not an absolute path\n",
			s->socket_path);
		return -EINVAL;
	}
	return 0;
}

/* Logging, libbpf's log, SIGPIPE and the priority: process-wide, nothing to release. */
static void setup_process(const struct settings *s)
{
	int err;

	log_setup("faultlined", s->log_level, s->systemd ? LOG_STYLE_JOURNAL : LOG_STYLE_HUMAN);
	libbpf_set_print(libbpf_print);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Before any thread exists, so every thread inherits it (nice is per thread on Linux):
	 * the dead-man's switch must fire on time on a host an experiment loads, CPU stressors
	 * included (they reset themselves to 0).
	 */
	if (setpriority(PRIO_PROCESS, 0, s->nice_level))
		log_warn("--nice %d: %s; running at nice %d", s->nice_level, strerror(errno),
			 getpriority(PRIO_PROCESS, 0));
	err = priority_autogroup_nice(s->nice_level);
	if (err && err != -ESRCH && err != -ENOENT)
		log_warn("--nice %d for the agent's session autogroup: %s", s->nice_level,
			 strerror(-err));
}

/*
 * Before the journal is read: a second agent, or a --cleanup, beside a running one would
 * revert that agent's live faults as leftovers of an earlier run. A holder that is dying
 * (a --cleanup right after kill -9) gets a few seconds to let go. 0 or -errno, logged.
 */
static int lock_state_dir(struct agent *a, const struct settings *s)
{
	pid_t holder;
	int err;

	err = statelock_acquire(a->state_dir, STATELOCK_WAIT_MS, &a->lock_fd, &holder);
	if (err == -EWOULDBLOCK) {
		const char *what = s->cleanup_only ? "--cleanup runs only once it has stopped" :
						     "not starting a second agent on it";

		if (holder)
			log_err("the state directory %s is in use by pid %d (a running faultlined): %s",
				a->state_dir, (int)holder, what);
		else
			log_err("the state directory %s is locked by another process: %s",
				a->state_dir, what);
		return err;
	}
	if (err)
		log_err("cannot lock the state directory %s: %s", a->state_dir, strerror(-err));
	return err;
}

/*
 * Undo what an earlier run left, before anything else: kill -9 must leave no residue. Opens
 * the journal (a->journal, also on failure once opened) and sets *report to what was
 * cleaned. 0 or -errno, logged.
 */
static int recover(struct agent *a, const struct settings *s, json_t **report, int *failures)
{
	char journal_path[300];
	int err;

	snprintf(journal_path, sizeof(journal_path), "%s/journal", a->state_dir);
	err = journal_open(journal_path, &a->journal);
	if (err) {
		log_err("cannot open the journal %s: %s", journal_path, strerror(-err));
		return err;
	}
	err = core_recover(a, report, failures);
	if (err) {
		log_err("cannot read the journal %s: %s", journal_path, strerror(-err));
		return err;
	}
	if (json_array_size(*report) || s->cleanup_only) {
		log_info("cleanup: %zu record%s from an earlier run, %d failed",
			 json_array_size(*report), json_array_size(*report) == 1 ? "" : "s",
			 *failures);
		events_emit(a->events, "agent.recovered",
			    json_pack("{s:O, s:i}", "cleaned", *report, "failures", *failures));
	}
	return 0;
}

/*
 * Opt-in (--loop-realtime): the loop thread at SCHED_RR keeps lease expiry and the API
 * prompt under a CPU stressor, but measured with 30 agents on 2 CPUs, 30 concurrent
 * process.pause applies took 1.5-3.1 s instead of 0.22-0.24 s at SCHED_OTHER. While
 * every capability is held (CAP_SYS_NICE), and before the API listens.
 */
static void setup_loop_scheduling(struct agent *a, const struct settings *s)
{
	int err;

	if (!s->loop_realtime)
		return;
	err = priority_loop_realtime(a->loop, 1);
	if (err)
		log_warn("cannot run the event loop at SCHED_RR: %s", strerror(-err));
}

/* The audit log and its summary timer; 0 or -errno, logged (a->audit set once opened). */
static int open_audit(struct agent *a, const struct settings *s)
{
	int err;

	err = audit_open(a->audit_path, &a->audit);
	if (err) {
		log_err("cannot open the audit log %s: %s", a->audit_path, strerror(-err));
		return err;
	}
	err = audit_summary_start(a->audit, a->loop, s->audit_summary_ms);
	if (err)
		log_err("cannot start the audit summary: %s", strerror(-err));
	return err;
}

/* The metrics endpoint, when asked for. 0 or -errno, logged; -EINVAL for a bad address. */
static int open_metrics(struct agent *a, const struct settings *s)
{
	int err;

	if (!s->metrics_addr)
		return 0;
	err = metrics_listen(a, s->metrics_addr, &a->metrics_server);
	if (err) {
		log_err("--metrics %s: %s", s->metrics_addr,
			err == -EADDRNOTAVAIL ? "only loopback addresses are allowed" :
			err == -EINVAL ? "expected HOST:PORT, e.g. 127.0.0.1:9464" :
					 strerror(-err));
		return err == -EADDRNOTAVAIL ? -EINVAL : err;
	}
	log_info("metrics on http://%s/metrics", s->metrics_addr);
	return 0;
}

/*
 * Before the capabilities go: the stressors' parent cgroup (the root of the cgroup v2
 * hierarchy is mode 0555) and, while the capabilities the journal's cleanup needs are still
 * there, the watchdog that undoes our faults if we die without reverting them (watchdog.h).
 * Neither is fatal.
 */
static void start_helpers(struct agent *a)
{
	int err;

	err = stressor_setup();
	if (err)
		log_info("stressors unavailable: cannot create their parent cgroup: %s",
			 strerror(-err));
	err = watchdog_start(a, core_recover);
	if (err)
		log_warn("no watchdog: %s; faults outlive a crash of the agent until the next "
			 "start or faultlined --cleanup (network rules still lapse with their lease)",
			 strerror(-err));
}

/*
 * Setup is done (probe, socket ownership, recovery): keep only what the fault types need.
 * A root agent that cannot drop privileges does not run. 0 or -errno, logged.
 */
static int drop_capabilities(struct agent *a)
{
	uint64_t keep = 0, needed = 0, missing, lazy_caps;
	char names[1024], lazy[256];
	int err;

	if (getuid() == 0) {
		for (size_t i = 0; fault_ops_all[i]; i++) {
			needed |= fault_ops_all[i]->caps;
			keep |= fault_ops_all[i]->caps | fault_ops_all[i]->caps_optional;
		}
		/*
		 * A capability this root never had (a container's bounding set) cannot be kept;
		 * the fault types that need it are unavailable (log_unavailable() below).
		 */
		missing = keep & ~caps_permitted();
		if (missing) {
			caps_names(missing, names, sizeof(names));
			log_warn("capabilities not available to keep: %s", names);
			keep &= ~missing;
		}
		/*
		 * CAP_SYS_ADMIN (optional, for setns()) stays permitted only: the short-lived
		 * thread that enters a namespace raises it for itself and drops it again
		 * (netns_call()); no other thread ever holds it effective. Other optional ones
		 * (CAP_SYS_RESOURCE for stress.fds' rlimit) are used where they are held, as
		 * before.
		 */
		lazy_caps = keep & ~needed & 1ULL << CAP_SYS_ADMIN;
		err = caps_restrict(keep, lazy_caps);
		caps_names(keep, names, sizeof(names));
		caps_names(lazy_caps, lazy, sizeof(lazy));
		if (err) {
			log_err("cannot restrict capabilities to %s: %s", names, strerror(-err));
			return err;
		}
		log_info("capabilities kept: %s (%s: permitted only, raised per thread); "
			 "no_new_privs set",
			 names[0] ? names : "none", lazy[0] ? lazy : "none");
	}
	a->caps_held = caps_effective_set();
	log_unavailable(a);
	return 0;
}

/* Serve until SIGTERM or SIGINT has reverted everything (on_signal) and the loop is idle. */
static void run(struct agent *a)
{
	uv_signal_init(a->loop, &a->sig_term);
	uv_signal_init(a->loop, &a->sig_int);
	a->sig_term.data = a->sig_int.data = a;
	uv_signal_start(&a->sig_term, on_signal, SIGTERM);
	uv_signal_start(&a->sig_int, on_signal, SIGINT);

	log_info("listening on %s", a->socket_path);
	notify_systemd("READY=1");
	uv_run(a->loop, UV_RUN_DEFAULT);

	uv_close((uv_handle_t *)&a->sig_term, NULL);
	uv_close((uv_handle_t *)&a->sig_int, NULL);
}

/*
 * Close the handles the agent's loop still has (the ones set up before the API listened;
 * the rest closed on the way down), let their close callbacks run and close the loop.
 */
static void close_loop(struct agent *a)
{
	int err;

	uv_close((uv_handle_t *)&a->sig_hup, NULL);
	uv_close((uv_handle_t *)&a->sig_usr1, NULL);
	uv_close((uv_handle_t *)&a->sig_usr2, NULL);
	uv_run(a->loop, UV_RUN_DEFAULT);
	err = uv_loop_close(a->loop);
	if (err)
		log_warn("event loop closed with handles still open: %s", uv_strerror(err));
}

int main(int argc, char **argv)
{
	struct settings s;
	struct agent a = {
		.group = (gid_t)-1,
		.lock_fd = -1,
	};
	json_t *report = NULL;
	struct group *grp;
	int failures = 0, status = 1, err;
	bool done;

	/* A stressor worker re-executed by the agent itself (stressor.c): nothing else runs. */
	if (argc > 1 && !strcmp(argv[1], STRESSOR_WORKER_ARG))
		return stressor_worker_main(argc, argv);
	if (parse_options(argc, argv, &s, &done))
		return 2;
	if (done)
		return 0;
	a.socket_path = s.socket_path;
	a.state_dir = s.state_dir;
	a.audit_path = s.audit_path;
	a.policy_path = s.policy_path;
	a.lease_ttl_ms = s.lease_ttl_ms;
	setup_process(&s);
	a.started = time(NULL);

	a.loop = uv_default_loop();
	watch_signal(&a, &a.sig_hup, on_hup, SIGHUP);
	watch_signal(&a, &a.sig_usr1, on_usr, SIGUSR1);
	watch_signal(&a, &a.sig_usr2, on_usr, SIGUSR2);
	a.events = events_new();
	if (!a.events)
		goto out_loop;
	if (lock_state_dir(&a, &s))
		goto out_events;
	grp = getgrnam("faultline");
	if (grp)
		a.group = grp->gr_gid;
	if (recover(&a, &s, &report, &failures))
		goto out_journal;
	if (s.cleanup_only) {
		json_dumpf(report, stdout, JSON_INDENT(2));
		printf("\n");
		status = failures ? 1 : 0;
		goto out_journal;
	}

	log_info("faultlined %s starting (pid %d)", FL_VERSION, (int)getpid());
	setup_loop_scheduling(&a, &s);
	err = load_policy(&a, s.explicit_policy);
	if (err) {
		status = err == -EINVAL ? 2 : 1;
		goto out_policy;
	}
	a.probe_err = probe_run(&a.probe);
	log_probe(&a);
	err = ctr_engines_init(s.container_engines);
	if (err) {
		log_err("--container-engines: %s",
			err == -EINVAL ? "give absolute socket paths, comma-separated, at most 8"
				       : strerror(-err));
		status = err == -EINVAL ? 2 : 1;
		goto out_audit;
	}
	ctr_set_policy(a.policy);

	if (open_audit(&a, &s))
		goto out_audit;
	err = server_open(&a.server, a.loop, a.socket_path, api_handle, &a);
	if (err) {
		log_err("cannot serve the API on %s: %s", a.socket_path, strerror(-err));
		goto out_audit;
	}
	server_set_reject(a.server, api_reject);
	server_set_limits(a.server, (uint32_t)s.request_timeout_ms, (uint32_t)s.max_conns);
	err = open_metrics(&a, &s);
	if (err) {
		status = err == -EINVAL ? 2 : 1;
		goto out_server;
	}
	start_helpers(&a);
	if (drop_capabilities(&a))
		goto out_watchdog;

	run(&a);
	status = 0;

	/*
	 * The unwind ladder, in the reverse order of the set-up, for a stop and for a failure
	 * alike: after a stop, on_signal() has closed the server, the metrics endpoint and the
	 * audit summary already (they are NULL or stopped, and closing them again does
	 * nothing). Close callbacks run (uv_run) before what they use is freed.
	 */
out_watchdog:
	/* Everything is reverted (or journaled for the next start): the watchdog may go. */
	watchdog_stop();
	metrics_close(a.metrics_server);
out_server:
	server_close(a.server);
out_audit:
	audit_summary_stop(a.audit);
	uv_run(a.loop, UV_RUN_NOWAIT);
	audit_close(a.audit);
out_policy:
	policy_free(a.policy);
out_journal:
	json_decref(report);
	journal_close(a.journal);
	statelock_release(a.lock_fd);
out_events:
	events_free(a.events);
out_loop:
	close_loop(&a);
	if (a.stopping)
		log_info("stopped");
	return status;
}
