/*
 * bench_ctlpath: the control path's cost. Over one kept-alive connection to an agent, N
 * pairs of apply + revert (POST /v1/leases/L/faults, DELETE /v1/faults/F) of one fault type,
 * each pair timed; beside them, in the same run and interleaved round by round, the
 * references: the same change made by spawning the usual tools. Network types:
 * `ip netns exec NS tc qdisc add ... tbf ...` then `ip netns exec NS tc qdisc del ...` (how an
 * operator or a script reaches the namespace), and `tc qdisc add` + `tc qdisc del` spawned
 * directly, without `ip netns exec`'s own cost (this program runs in the agent's network
 * namespace, under nsenter --net). process.pause: `/bin/kill -STOP PID` then
 * `/bin/kill -CONT PID`, two processes.
 *
 * Usage: bench_ctlpath ADDR NS DEV PID N [TYPE]   (TYPE: only that one; for strace -c counts)
 * Prints one line per type: "TYPE MEDIAN_US P90_US REF_MEDIAN_US REF_P90_US", and for the
 * network types two more fields, the plain tc reference: "TC_MEDIAN_US TC_P90_US".
 * Exit status: 0, 1 when a call or a spawn failed (the reason on stderr), 2 for bad usage.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "bench_util.h"
#include "client.h"

extern char **environ;

/* Pairs per round: the type's and the reference's rounds alternate, so drift hits both. */
#define ROUND 10

/* Spawn argv[0] (a path) with argv and wait for it: 0 when it exited 0. */
static int run(char *const argv[])
{
	pid_t pid;
	int st, err;

	err = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
	if (err) {
		fprintf(stderr, "bench_ctlpath: spawning %s: %s\n", argv[0], strerror(err));
		return -err;
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "bench_ctlpath: %s %s %s failed (status %d)\n", argv[0], argv[1],
			argv[2], st);
		return -EIO;
	}
	return 0;
}

struct kind {
	const char *type;
	const char *target; /* JSON members of "target" besides the interface, or NULL */
	const char *params; /* JSON of "params" */
	int pause;	    /* process.pause: target the pid, reference /bin/kill */
};

static const struct kind kinds[] = {
	{"network.loss", "\"direction\": \"both\", \"cidrs\": [\"192.0.2.0/24\"]",
	 "{\"probability\": \"50%\"}", 0},
	{"network.partition", "\"cidrs\": [\"192.0.2.0/24\"]", "{}", 0},
	{"network.bandwidth", "\"cidrs\": [\"192.0.2.0/24\"]", "{\"rate\": \"10mbit\"}", 0},
	{"process.pause", NULL, NULL, 1},
};

struct ctx {
	struct client *c;
	const char *lease, *ns, *dev;
	int pid;
};

static int call(struct ctx *x, const char *method, const char *target, const char *body, int want,
		json_t **resp)
{
	json_t *b = NULL;
	char err[512];
	int status, e;

	if (body) {
		json_error_t jerr;

		b = json_loads(body, 0, &jerr);
		if (!b) {
			fprintf(stderr, "bench_ctlpath: bad body %s: %s\n", body, jerr.text);
			return -EINVAL;
		}
	}
	e = client_call(x->c, method, target, b, &status, resp, err, sizeof(err));
	json_decref(b);
	if (e) {
		fprintf(stderr, "bench_ctlpath: %s %s: %s\n", method, target, err);
		return e;
	}
	if (status != want) {
		char *s = *resp ? json_dumps(*resp, JSON_COMPACT) : NULL;

		fprintf(stderr, "bench_ctlpath: %s %s: HTTP %d: %s\n", method, target, status,
			s ? s : "");
		free(s);
		json_decref(*resp);
		*resp = NULL;
		return -EPROTO;
	}
	return 0;
}

/* One apply + revert through the API, in microseconds (< 0: -errno). */
static double pair_api(struct ctx *x, const struct kind *k)
{
	char body[1024], path[256], fid[64];
	json_t *resp = NULL;
	double t0, t1;
	int e;

	if (k->pause)
		snprintf(body, sizeof(body),
			 "{\"name\": \"bench\", \"type\": \"%s\", \"duration\": \"1h\", "
			 "\"target\": {\"pid\": %d, \"all\": true}}",
			 k->type, x->pid);
	else
		snprintf(body, sizeof(body),
			 "{\"name\": \"bench\", \"type\": \"%s\", \"duration\": \"1h\", "
			 "\"target\": {\"interface\": \"%s\", %s}, \"params\": %s}",
			 k->type, x->dev, k->target, k->params);
	snprintf(path, sizeof(path), "/v1/leases/%s/faults", x->lease);
	t0 = bench_now_us();
	e = call(x, "POST", path, body, 201, &resp);
	if (e)
		return e;
	snprintf(fid, sizeof(fid), "%s",
		 json_string_value(json_object_get(json_object_get(resp, "fault"), "id")) ?: "");
	json_decref(resp);
	resp = NULL;
	snprintf(path, sizeof(path), "/v1/faults/%s", fid);
	e = call(x, "DELETE", path, NULL, 200, &resp);
	t1 = bench_now_us();
	json_decref(resp);
	return e ? e : t1 - t0;
}

/*
 * A reference pair: two processes spawned and waited for, in microseconds. netns: the tc
 * commands through `ip netns exec NS`; else tc itself (process.pause: always /bin/kill).
 */
static double pair_ref(struct ctx *x, const struct kind *k, int netns)
{
	char dev[64], pid[32], ns[64];
	char *tc_add[] = {"/usr/sbin/ip", "netns", "exec", ns,	      "/usr/sbin/tc", "qdisc",
			  "add",	  "dev",   dev,	   "root",    "tbf",	      "rate",
			  "10mbit",	  "burst", "32kb", "latency", "50ms",	      NULL};
	char *tc_del[] = {"/usr/sbin/ip", "netns", "exec", ns,	"/usr/sbin/tc", "qdisc", "del",
			  "dev",	  dev,	   "root", NULL};
	char *stop[] = {"/bin/kill", "-STOP", pid, NULL};
	char *cont[] = {"/bin/kill", "-CONT", pid, NULL};
	char *const *add = netns ? tc_add : tc_add + 4, *const *del = netns ? tc_del : tc_del + 4;
	double t0;
	int e;

	snprintf(dev, sizeof(dev), "%s", x->dev);
	snprintf(ns, sizeof(ns), "%s", x->ns);
	snprintf(pid, sizeof(pid), "%d", x->pid);
	t0 = bench_now_us();
	e = run(k->pause ? stop : add);
	if (!e)
		e = run(k->pause ? cont : del);
	return e ? e : bench_now_us() - t0;
}

int main(int argc, char **argv)
{
	struct agent_addr addr;
	struct ctx x = {0};
	char err[1024], lease[64];
	json_t *resp = NULL;
	double *api, *ref, *tc;
	int n, rc = 1;

	if (argc < 6 || argc > 7 || (n = atoi(argv[5])) < 1) {
		fprintf(stderr, "usage: bench_ctlpath ADDR NS DEV PID N [TYPE]\n");
		return 2;
	}
	x.ns = argv[2];
	x.dev = argv[3];
	x.pid = atoi(argv[4]);
	if (addr_parse(argv[1], &addr, err, sizeof(err))) {
		fprintf(stderr, "bench_ctlpath: %s\n", err);
		return 2;
	}
	if (client_connect(&addr, &x.c, err, sizeof(err))) {
		fprintf(stderr, "bench_ctlpath: %s\n", err);
		return 1;
	}
	api = calloc(n, sizeof(*api));
	ref = calloc(n, sizeof(*ref));
	tc = calloc(n, sizeof(*tc));
	if (!api || !ref || !tc)
		goto out;
	if (call(&x, "POST", "/v1/leases", "{\"ttl_ms\": 3600000}", 201, &resp))
		goto out;
	snprintf(lease, sizeof(lease), "%s",
		 json_string_value(json_object_get(json_object_get(resp, "lease"), "id")) ?: "");
	json_decref(resp);
	x.lease = lease;
	for (size_t t = 0; t < sizeof(kinds) / sizeof(kinds[0]); t++) {
		const struct kind *k = &kinds[t];

		if (argc == 7 && strcmp(argv[6], k->type))
			continue;

		/* One pair of each first, unmeasured: the first apply of a kind sets things up. */
		if (pair_api(&x, k) < 0 || pair_ref(&x, k, 1) < 0)
			goto out;
		for (int i = 0; i < n; i += ROUND) {
			for (int j = i; j < n && j < i + ROUND; j++)
				if ((api[j] = pair_api(&x, k)) < 0)
					goto out;
			for (int j = i; j < n && j < i + ROUND; j++)
				if ((ref[j] = pair_ref(&x, k, 1)) < 0)
					goto out;
			for (int j = i; !k->pause && j < n && j < i + ROUND; j++)
				if ((tc[j] = pair_ref(&x, k, 0)) < 0)
					goto out;
		}
		printf("%s %.1f %.1f %.1f %.1f", k->type, bench_quantile(api, n, 0.5),
		       bench_quantile(api, n, 0.9), bench_quantile(ref, n, 0.5),
		       bench_quantile(ref, n, 0.9));
		if (!k->pause)
			printf(" %.1f %.1f", bench_quantile(tc, n, 0.5),
			       bench_quantile(tc, n, 0.9));
		printf("\n");
		fflush(stdout);
	}
	rc = 0;
out:
	free(api);
	free(ref);
	free(tc);
	client_close(x.c);
	return rc;
}
