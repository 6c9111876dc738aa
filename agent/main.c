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

#include <bpf/libbpf.h>

#include <grp.h>

#include "addr.h"
#include "agent.h"
#include "audit.h"
#include "caps.h"
#include "core.h"
#include "events.h"
#include "fault.h"
#include "journal.h"
#include "log.h"
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

int main(int argc, char **argv)
{
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
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct agent a = {
		.socket_path = AGENT_DEFAULT_SOCKET,
		.state_dir = AGENT_DEFAULT_STATE_DIR,
		.audit_path = AGENT_DEFAULT_AUDIT_LOG,
		.policy_path = POLICY_DEFAULT_PATH,
		.lease_ttl_ms = LEASE_TTL_DEFAULT_MS,
		.group = (gid_t)-1,
		.lock_fd = -1,
	};
	unsigned long request_timeout_ms = SERVER_DEFAULT_REQUEST_TIMEOUT_MS;
	unsigned long max_conns = SERVER_DEFAULT_MAX_CONNS;
	bool loop_realtime = false;
	pid_t holder;
	enum log_level lvl = LOG_LVL_INFO;
	const char *metrics_addr = NULL;
	int systemd = 0, cleanup_only = 0, explicit_policy = 0, c, err, failures = 0;
	int nice_level = AGENT_DEFAULT_NICE;
	uint64_t audit_summary_ms = AUDIT_SUMMARY_INTERVAL_MS;
	char journal_path[300];
	json_t *report = NULL;
	struct group *grp;

	/* A stressor worker re-executed by the agent itself (stressor.c): nothing else runs. */
	if (argc > 1 && !strcmp(argv[1], STRESSOR_WORKER_ARG))
		return stressor_worker_main(argc, argv);
	while ((c = getopt_long(argc, argv, "s:l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			a.socket_path = optarg;
			break;
		case 'S':
			systemd = 1;
			break;
		case 'D':
			a.state_dir = optarg;
			break;
		case 'A':
			a.audit_path = optarg;
			break;
		case 'C':
			cleanup_only = 1;
			break;
		case 'I': {
			char why[256];
			int64_t ns;

			if (units_parse_duration(optarg, &ns, why, sizeof(why))) {
				fprintf(stderr, "faultlined: --audit-summary-interval: %s\n", why);
				return 2;
			}
			if (ns && (ns < 1000000000LL || ns > 3600000000000LL)) {
				fprintf(stderr,
					"faultlined: --audit-summary-interval: '%s' is out of range "
					"(0, or 1s to 1h)\n",
					optarg);
				return 2;
			}
			audit_summary_ms = (uint64_t)(ns / 1000000);
			break;
		}
		case 'M':
			metrics_addr = optarg;
			break;
		case 'P':
			a.policy_path = optarg;
			explicit_policy = 1;
			break;
		case 'T': {
			char *end;
			unsigned long long v = strtoull(optarg, &end, 10);

			if (*end || v < LEASE_TTL_MIN_MS || v > LEASE_TTL_MAX_MS) {
				fprintf(stderr,
					"faultlined: --lease-ttl: '%s' is not a number of "
					"milliseconds in [%d, %d]\n",
					optarg, LEASE_TTL_MIN_MS, LEASE_TTL_MAX_MS);
				return 2;
			}
			a.lease_ttl_ms = v;
			break;
		}
		case 'Q':
			loop_realtime = true;
			break;
		case 'N': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (!*optarg || *end || v < -20 || v > 19) {
				fprintf(stderr, "faultlined: --nice: '%s' is not a number in [-20, 19]\n",
					optarg);
				return 2;
			}
			nice_level = (int)v;
			break;
		}
		case 'R':
			if (parse_uint("--request-timeout", optarg, 100, 3600000,
				       &request_timeout_ms))
				return 2;
			break;
		case 'K':
			if (parse_uint("--max-connections", optarg, 1, 65536, &max_conns))
				return 2;
			break;
		case 'l':
			if (log_level_parse(optarg, &lvl)) {
				fprintf(stderr, "faultlined: --log-level: unknown level '%s' "
						"(error, warn, info, debug)\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("faultlined %s\n", FL_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "faultlined: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (a.socket_path[0] != '/') {
		fprintf(stderr, "faultlined: --socket: '%s' is not an absolute path\n",
			a.socket_path);
		return 2;
	}
	log_setup("faultlined", lvl, systemd ? LOG_STYLE_JOURNAL : LOG_STYLE_HUMAN);
	libbpf_set_print(libbpf_print);
	signal(SIGPIPE, SIG_IGN);
	a.started = time(NULL);
	/*
	 * Before any thread exists, so every thread inherits it (nice is per thread on Linux):
	 * the dead-man's switch must fire on time on a host an experiment loads, CPU stressors
	 * included (they reset themselves to 0).
	 */
	if (setpriority(PRIO_PROCESS, 0, nice_level))
		log_warn("--nice %d: %s; running at nice %d", nice_level, strerror(errno),
			 getpriority(PRIO_PROCESS, 0));
	err = core_autogroup_nice(nice_level);
	if (err && err != -ESRCH && err != -ENOENT)
		log_warn("--nice %d for the agent's session autogroup: %s", nice_level,
			 strerror(-err));

	a.loop = uv_default_loop();
	watch_signal(&a, &a.sig_hup, on_hup, SIGHUP);
	watch_signal(&a, &a.sig_usr1, on_usr, SIGUSR1);
	watch_signal(&a, &a.sig_usr2, on_usr, SIGUSR2);
	a.events = events_new();
	if (!a.events)
		return 1;
	/*
	 * Before the journal is read: a second agent, or a --cleanup, beside a running one would
	 * revert that agent's live faults as leftovers of an earlier run. A holder that is dying
	 * (a --cleanup right after kill -9) gets a few seconds to let go.
	 */
	err = statelock_acquire(a.state_dir, STATELOCK_WAIT_MS, &a.lock_fd, &holder);
	if (err == -EWOULDBLOCK) {
		const char *what = cleanup_only ? "--cleanup runs only once it has stopped" :
						  "not starting a second agent on it";

		if (holder)
			log_err("the state directory %s is in use by pid %d (a running faultlined): %s",
				a.state_dir, (int)holder, what);
		else
			log_err("the state directory %s is locked by another process: %s",
				a.state_dir, what);
		return 1;
	}
	if (err) {
		log_err("cannot lock the state directory %s: %s", a.state_dir, strerror(-err));
		return 1;
	}
	grp = getgrnam("faultline");
	if (grp)
		a.group = grp->gr_gid;

	/* Undo what an earlier run left, before anything else: kill -9 must leave no residue. */
	snprintf(journal_path, sizeof(journal_path), "%s/journal", a.state_dir);
	err = journal_open(journal_path, &a.journal);
	if (err) {
		log_err("cannot open the journal %s: %s", journal_path, strerror(-err));
		return 1;
	}
	err = core_recover(&a, &report, &failures);
	if (err) {
		log_err("cannot read the journal %s: %s", journal_path, strerror(-err));
		return 1;
	}
	if (json_array_size(report) || cleanup_only) {
		log_info("cleanup: %zu record%s from an earlier run, %d failed",
			 json_array_size(report), json_array_size(report) == 1 ? "" : "s",
			 failures);
		events_emit(a.events, "agent.recovered",
			    json_pack("{s:O, s:i}", "cleaned", report, "failures", failures));
	}
	if (cleanup_only) {
		json_dumpf(report, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(report);
		journal_close(a.journal);
		events_free(a.events);
		statelock_release(a.lock_fd);
		return failures ? 1 : 0;
	}

	log_info("faultlined %s starting (pid %d)", FL_VERSION, (int)getpid());
	/*
	 * Opt-in (--loop-realtime): the loop thread at SCHED_RR keeps lease expiry and the API
	 * prompt under a CPU stressor, but measured with 30 agents on 2 CPUs, 30 concurrent
	 * process.pause applies took 1.5-3.1 s instead of 0.22-0.24 s at SCHED_OTHER. While
	 * every capability is held (CAP_SYS_NICE), and before the API listens.
	 */
	if (loop_realtime) {
		err = core_loop_realtime(a.loop, 1);
		if (err)
			log_warn("cannot run the event loop at SCHED_RR: %s", strerror(-err));
	}
	err = load_policy(&a, explicit_policy);
	if (err)
		return err == -EINVAL ? 2 : 1;
	a.probe_err = probe_run(&a.probe);
	log_probe(&a);

	err = audit_open(a.audit_path, &a.audit);
	if (err) {
		log_err("cannot open the audit log %s: %s", a.audit_path, strerror(-err));
		return 1;
	}
	err = audit_summary_start(a.audit, a.loop, audit_summary_ms);
	if (err) {
		log_err("cannot start the audit summary: %s", strerror(-err));
		return 1;
	}
	err = server_open(&a.server, a.loop, a.socket_path, api_handle, &a);
	if (err) {
		log_err("cannot serve the API on %s: %s", a.socket_path, strerror(-err));
		audit_summary_stop(a.audit);
		uv_run(a.loop, UV_RUN_NOWAIT);
		return 1;
	}
	server_set_reject(a.server, api_reject);
	server_set_limits(a.server, (uint32_t)request_timeout_ms, (uint32_t)max_conns);
	if (metrics_addr) {
		err = metrics_listen(&a, metrics_addr, &a.metrics_server);
		if (err) {
			log_err("--metrics %s: %s", metrics_addr,
				err == -EADDRNOTAVAIL ? "only loopback addresses are allowed" :
				err == -EINVAL ? "expected HOST:PORT, e.g. 127.0.0.1:9464" :
						 strerror(-err));
			server_close(a.server);
			uv_run(a.loop, UV_RUN_NOWAIT);
			return err == -EINVAL || err == -EADDRNOTAVAIL ? 2 : 1;
		}
		log_info("metrics on http://%s/metrics", metrics_addr);
	}
	/* Before the capabilities go: the root of the cgroup v2 hierarchy is mode 0555. */
	err = stressor_setup();
	if (err)
		log_info("stressors unavailable: cannot create their parent cgroup: %s",
			 strerror(-err));
	/*
	 * While the capabilities the journal's cleanup needs are still there: the watchdog that
	 * undoes our faults if we die without reverting them (watchdog.h).
	 */
	err = watchdog_start(&a);
	if (err)
		log_warn("no watchdog: %s; faults outlive a crash of the agent until the next "
			 "start or faultlined --cleanup (network rules still lapse with their lease)",
			 strerror(-err));
	/*
	 * Setup is done (probe, socket ownership, recovery): keep only what the fault types
	 * need. A root agent that cannot drop privileges does not run.
	 */
	if (getuid() == 0) {
		uint64_t keep = 0, missing;
		char names[1024];

		for (size_t i = 0; fault_ops_all[i]; i++)
			keep |= fault_ops_all[i]->caps | fault_ops_all[i]->caps_optional;
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
		err = caps_restrict(keep);
		caps_names(keep, names, sizeof(names));
		if (err) {
			log_err("cannot restrict capabilities to %s: %s", names, strerror(-err));
			server_close(a.server);
			uv_run(a.loop, UV_RUN_NOWAIT);
			return 1;
		}
		log_info("capabilities kept: %s; no_new_privs set", names[0] ? names : "none");
	}
	a.caps_held = caps_effective_set();
	log_unavailable(&a);
	uv_signal_init(a.loop, &a.sig_term);
	uv_signal_init(a.loop, &a.sig_int);
	a.sig_term.data = a.sig_int.data = &a;
	uv_signal_start(&a.sig_term, on_signal, SIGTERM);
	uv_signal_start(&a.sig_int, on_signal, SIGINT);

	log_info("listening on %s", a.socket_path);
	notify_systemd("READY=1");
	uv_run(a.loop, UV_RUN_DEFAULT);

	uv_close((uv_handle_t *)&a.sig_term, NULL);
	uv_close((uv_handle_t *)&a.sig_int, NULL);
	uv_close((uv_handle_t *)&a.sig_hup, NULL);
	uv_close((uv_handle_t *)&a.sig_usr1, NULL);
	uv_close((uv_handle_t *)&a.sig_usr2, NULL);
	uv_run(a.loop, UV_RUN_DEFAULT);
	/* Everything is reverted (or journaled for the next start): the watchdog may go. */
	watchdog_stop();
	json_decref(report);
	audit_close(a.audit);
	policy_free(a.policy);
	journal_close(a.journal);
	events_free(a.events);
	err = uv_loop_close(a.loop);
	statelock_release(a.lock_fd);
	if (err)
		log_warn("event loop closed with handles still open: %s", uv_strerror(err));
	log_info("stopped");
	return 0;
}
