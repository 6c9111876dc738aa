/*
 * Probe drivers: paced HTTP requests on a libcurl multi handle, Prometheus instant queries,
 * commands in their own process group. Each probing thread owns one probe_ctx; waiting is
 * always in poll() or curl_multi_poll() on the owner's stop descriptor, never a spin.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guard_probe.h"
#include "http.h"

#define MS 1000000LL
#define PROBE_BODY_MAX (4u << 20)
#define PROBE_OUTPUT_KEEP 120

extern char **environ;

int64_t guard_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int probe_ctx_init(struct probe_ctx *ctx, int stop_fd, atomic_bool *stop, int64_t deadline_ns)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->stop_fd = stop_fd;
	ctx->stop = stop;
	ctx->deadline_ns = deadline_ns;
	ctx->multi = curl_multi_init();
	return ctx->multi ? 0 : -ENOMEM;
}

void probe_ctx_fini(struct probe_ctx *ctx)
{
	if (!ctx || !ctx->multi)
		return;
	curl_multi_cleanup(ctx->multi);
	ctx->multi = NULL;
}

bool probe_stopping(const struct probe_ctx *ctx)
{
	return ctx->stop && atomic_load(ctx->stop);
}

/* Milliseconds from now to t, rounded up so a wake-up is never early; capped for poll. */
static int ms_until(int64_t t_ns)
{
	int64_t d = t_ns - guard_now_ns();

	if (d <= 0)
		return 0;
	d = (d + MS - 1) / MS;
	return d > INT_MAX ? INT_MAX : (int)d;
}

bool probe_sleep_until(const struct probe_ctx *ctx, int64_t t_ns)
{
	struct pollfd pfd = {.fd = ctx->stop_fd, .events = POLLIN};

	for (int i = 0; i < 1000000; i++) {
		int ms;

		if (probe_stopping(ctx))
			return false;
		ms = ms_until(t_ns);
		if (!ms)
			return true;
		/* fd -1 is ignored by poll(), so checks without a stop descriptor just sleep. */
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
			return !probe_stopping(ctx);
	}
	return !probe_stopping(ctx);
}

/* HTTP. */

static size_t discard_body(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

static const char *const method_names[] = {
	[HTTP_GET] = "GET",	    [HTTP_HEAD] = "HEAD",     [HTTP_POST] = "POST",
	[HTTP_PUT] = "PUT",	    [HTTP_DELETE] = "DELETE", [HTTP_PATCH] = "PATCH",
	[HTTP_OPTIONS] = "OPTIONS",
};

struct http_req {
	CURL *easy;
	bool busy;
	int64_t sent_ns;
	char errbuf[CURL_ERROR_SIZE];
};

/* TLS as the experiment says; without tls, libcurl's defaults (system CAs, full checks). */
static void set_tls(CURL *e, const struct probe_tls *t)
{
	if (!t)
		return;
	if (t->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
	if (t->insecure_skip_verify) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* Set up a reusable handle: reusing it keeps the connection alive between requests. */
static int req_setup(struct http_req *r, const char *url, const struct probe_tls *tls, int method)
{
	CURL *e = curl_easy_init();

	if (!e)
		return -ENOMEM;
	r->easy = e;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "faultctl-probe");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	set_tls(e, tls);
	switch (method) {
	case HTTP_GET:
		break;
	case HTTP_HEAD:
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		break;
	case HTTP_POST:
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
		break;
	default:
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method_names[method]);
		break;
	}
	return 0;
}

/* Classify a finished transfer. */
static void req_result(struct http_req *r, CURLcode rc, int64_t now, struct http_result *out)
{
	memset(out, 0, sizeof(*out));
	out->t_ns = now;
	out->latency_ns = now - r->sent_ns;
	if (rc == CURLE_OK) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &out->status);
		return;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		out->timed_out = true;
	} else {
		out->transport_error = true;
	}
	snprintf(out->error, sizeof(out->error), "%.127s",
		 r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
}

static int cerr(CURLMcode mc)
{
	return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
}

/* The state of one probe_http_loop(): its transfers and its schedule. */
struct http_pace {
	struct http_req reqs[PROBE_HTTP_MAX_INFLIGHT];
	int64_t interval;  /* between two requests, from the rate */
	int64_t next;	   /* when the next request is due */
	int64_t next_tick; /* when on_tick is due, or INT64_MAX */
	size_t sent, inflight;
};

/* Send the request that is due at now, on a free handle; 0 or -errno. */
static int http_send_due(struct probe_ctx *ctx, const struct http_loop *l, struct http_pace *p,
			 int64_t now)
{
	size_t i;

	for (i = 0; i < PROBE_HTTP_MAX_INFLIGHT && p->reqs[i].busy; i++)
		;
	if (i < PROBE_HTTP_MAX_INFLIGHT) {
		struct http_req *r = &p->reqs[i];
		int64_t to = l->timeout_ns;
		CURLMcode mc;
		int err;

		if (!r->easy) {
			err = req_setup(r, l->url, l->tls, l->method);
			if (err)
				return err;
		}
		if (to > ctx->deadline_ns - now)
			to = ctx->deadline_ns - now;
		curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)((to + MS - 1) / MS));
		r->errbuf[0] = '\0';
		r->sent_ns = now;
		mc = curl_multi_add_handle(ctx->multi, r->easy);
		if (mc != CURLM_OK)
			return cerr(mc);
		r->busy = true;
		p->inflight++;
		p->sent++;
	}
	/* Paced from the schedule, not from the last send, so the rate holds; ticks missed
	 * while the machine was stalled are skipped, not bunched.
	 */
	p->next += p->interval;
	if (p->next <= now)
		p->next = now + p->interval;
	return 0;
}

/* Hand every finished transfer to on_result; *completed when there was one. 0 or -errno. */
static int http_collect(struct probe_ctx *ctx, const struct http_loop *l, struct http_pace *p,
			bool *completed)
{
	CURLMsg *msg;
	int left, err;

	*completed = false;
	while ((msg = curl_multi_info_read(ctx->multi, &left))) {
		struct http_req *r = NULL;
		struct http_result res;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		req_result(r, msg->data.result, guard_now_ns(), &res);
		curl_multi_remove_handle(ctx->multi, r->easy);
		r->busy = false;
		p->inflight--;
		err = l->on_result(l->arg, &res);
		if (err)
			return err;
		*completed = true;
	}
	return 0;
}

/* How long the loop may wait at now: until the next request, tick or deadline, <= 1 s. */
static int http_wait_ms(const struct probe_ctx *ctx, const struct http_pace *p, bool more,
			int64_t now)
{
	int64_t wake = INT64_MAX;
	int ms;

	if (more && now < ctx->deadline_ns && p->next < wake)
		wake = p->next;
	if (p->next_tick < wake)
		wake = p->next_tick;
	/* Past the deadline only transfers are left, which libcurl ends by their capped
	 * timeouts: wait for them rather than for a deadline already gone.
	 */
	if (ctx->deadline_ns > now && ctx->deadline_ns < wake)
		wake = ctx->deadline_ns;
	ms = wake == INT64_MAX ? 1000 : ms_until(wake);
	return ms > 1000 ? 1000 : ms;
}

int probe_http_loop(struct probe_ctx *ctx, const struct http_loop *l)
{
	struct http_pace p = {
		.interval = (int64_t)(60LL * 1000 * 1000000000LL / (int64_t)l->rate_pkm),
	};
	struct curl_waitfd wfd = {.fd = ctx->stop_fd, .events = CURL_WAIT_POLLIN};
	int err = 0;

	p.next = guard_now_ns();
	p.next_tick = l->tick_ns ? p.next + l->tick_ns : INT64_MAX;
	/* Bounded: every pass waits for a deadline, a tick, a completion or the stop. */
	while (!probe_stopping(ctx)) {
		bool more = !l->max_requests || p.sent < l->max_requests;
		int64_t now = guard_now_ns();
		bool completed;
		CURLMcode mc;
		int running;

		if (now >= ctx->deadline_ns && !p.inflight)
			break;
		if (!more && !p.inflight)
			break;
		if (more && now >= p.next && now < ctx->deadline_ns) {
			err = http_send_due(ctx, l, &p, now);
			if (err)
				break;
		}
		if (l->on_tick && now >= p.next_tick) {
			err = l->on_tick(l->arg, now);
			if (err)
				break;
			p.next_tick += l->tick_ns;
			if (p.next_tick <= now)
				p.next_tick = now + l->tick_ns;
		}
		mc = curl_multi_perform(ctx->multi, &running);
		if (mc != CURLM_OK) {
			err = cerr(mc);
			break;
		}
		err = http_collect(ctx, l, &p, &completed);
		if (err)
			break;
		/* A completion may have been the last one wanted: decide before sleeping. */
		if (completed)
			continue;
		mc = curl_multi_poll(ctx->multi, ctx->stop_fd >= 0 ? &wfd : NULL,
				     ctx->stop_fd >= 0 ? 1 : 0, http_wait_ms(ctx, &p, more, now),
				     NULL);
		if (mc != CURLM_OK) {
			err = cerr(mc);
			break;
		}
	}
	for (size_t i = 0; i < PROBE_HTTP_MAX_INFLIGHT; i++) {
		if (!p.reqs[i].easy)
			continue;
		if (p.reqs[i].busy)
			curl_multi_remove_handle(ctx->multi, p.reqs[i].easy);
		curl_easy_cleanup(p.reqs[i].easy);
	}
	return err;
}

int probe_http_get(struct probe_ctx *ctx, const char *url, const struct probe_tls *tls,
		   int64_t timeout_ns, char **body, size_t *len, long *status, char *err,
		   size_t err_size)
{
	struct curl_waitfd wfd = {.fd = ctx->stop_fd, .events = CURL_WAIT_POLLIN};
	struct http_body b = {.max = PROBE_BODY_MAX};
	char errbuf[CURL_ERROR_SIZE] = "";
	int64_t now = guard_now_ns();
	int ret = -EIO;
	CURLMsg *msg;
	CURL *e;

	if (timeout_ns > ctx->deadline_ns - now)
		timeout_ns = ctx->deadline_ns - now;
	if (timeout_ns <= 0) {
		snprintf(err, err_size, "no time left before the deadline");
		return -ETIMEDOUT;
	}
	e = curl_easy_init();
	if (!e) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_body_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "faultctl-probe");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	set_tls(e, tls);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)((timeout_ns + MS - 1) / MS));
	if (curl_multi_add_handle(ctx->multi, e) != CURLM_OK) {
		snprintf(err, err_size, "libcurl refused the request");
		goto out;
	}
	/* Bounded by the transfer's own timeout, which libcurl enforces. */
	for (;;) {
		int running, left;
		CURLMcode mc;

		if (probe_stopping(ctx)) {
			snprintf(err, err_size, "stopped");
			ret = -ECANCELED;
			goto remove;
		}
		mc = curl_multi_perform(ctx->multi, &running);
		if (mc != CURLM_OK) {
			snprintf(err, err_size, "libcurl: %s", curl_multi_strerror(mc));
			goto remove;
		}
		msg = curl_multi_info_read(ctx->multi, &left);
		if (msg && msg->msg == CURLMSG_DONE)
			break;
		mc = curl_multi_poll(ctx->multi, ctx->stop_fd >= 0 ? &wfd : NULL,
				     ctx->stop_fd >= 0 ? 1 : 0, 1000, NULL);
		if (mc != CURLM_OK) {
			snprintf(err, err_size, "libcurl: %s", curl_multi_strerror(mc));
			goto remove;
		}
	}
	if (msg->data.result != CURLE_OK) {
		CURLcode rc = msg->data.result;

		if (b.too_big)
			snprintf(err, err_size, "answer larger than %u bytes", PROBE_BODY_MAX);
		else
			snprintf(err, err_size, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
		goto remove;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	if (!b.buf) {
		b.buf = calloc(1, 1);
		if (!b.buf) {
			ret = -ENOMEM;
			snprintf(err, err_size, "out of memory");
			goto remove;
		}
	}
	*body = b.buf;
	*len = b.len;
	b.buf = NULL;
	ret = 0;
remove:
	curl_multi_remove_handle(ctx->multi, e);
out:
	curl_easy_cleanup(e);
	free(b.buf);
	return ret;
}

int probe_prom_query(struct probe_ctx *ctx, const char *url, const struct probe_tls *tls,
		     const char *query, int64_t timeout_ns, double *value, char *err,
		     size_t err_size)
{
	char *full = NULL, *body = NULL;
	size_t len = 0;
	long status = 0;
	int ret;

	ret = guard_prom_url(url, query, &full);
	if (ret) {
		snprintf(err, err_size, "out of memory");
		return ret;
	}
	ret = probe_http_get(ctx, full, tls, timeout_ns, &body, &len, &status, err, err_size);
	if (ret)
		goto out;
	/* Prometheus answers errors (400 bad query, 422, 503) with the same JSON shape. */
	ret = guard_prom_parse(body, len, value, err, err_size);
	if (ret == -EINVAL && status != 200) {
		char more[96];

		snprintf(more, sizeof(more), "HTTP %ld from Prometheus: ", status);
		if (strlen(more) + strlen(err) + 1 <= err_size) {
			memmove(err + strlen(more), err, strlen(err) + 1);
			memcpy(err, more, strlen(more));
		}
	}
out:
	free(body);
	free(full);
	return ret;
}

/* Commands. */

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Keep the first line of output, printable bytes only, for the summary. */
static void keep_output(char *keep, size_t *klen, bool *line_done, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !*line_done; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n') {
			*line_done = *klen > 0;
			continue;
		}
		if (*klen >= PROBE_OUTPUT_KEEP)
			break;
		keep[(*klen)++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	keep[*klen] = '\0';
}

/* The first line of a command's output, as keep_output() keeps it. */
struct cmd_output {
	char keep[PROBE_OUTPUT_KEEP + 1];
	size_t klen;
	bool line_done;
};

/*
 * Start the command of p with its stdout and stderr on fd out_w, in its own process group,
 * with default signal dispositions and no blocked signals, whatever faultctl itself uses.
 * 0 or -errno for faultctl's own failure; *spawn_err is posix_spawnp()'s answer (0: *pid
 * runs), a failure of the command, not of faultctl.
 */
static int cmd_spawn(const struct probe_command *p, int out_w, pid_t *pid, int *spawn_err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char **args;
	int err;

	err = posix_spawn_file_actions_init(&fa);
	if (err)
		return -err;
	err = posix_spawnattr_init(&attr);
	if (err) {
		err = -err;
		goto fini_fa;
	}
	sigemptyset(&none);
	sigfillset(&all);
	/* Its own process group, so a timeout can kill everything it started. */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_w, 1);
	posix_spawn_file_actions_adddup2(&fa, out_w, 2);
	/* The model's argv is counted, not NULL-terminated. */
	args = calloc(p->argc + 1, sizeof(*args));
	if (!args) {
		err = -ENOMEM;
		goto fini_attr;
	}
	memcpy(args, p->argv, p->argc * sizeof(*args));
	*spawn_err = posix_spawnp(pid, p->argv[0], &fa, &attr, args, environ);
	free(args);
fini_attr:
	posix_spawnattr_destroy(&attr);
fini_fa:
	posix_spawn_file_actions_destroy(&fa);
	return err;
}

/*
 * Read the command's output until it exits, the deadline passes or the probe is stopped
 * (*timed_out). Closes and sets *out_r to -1 at the end of the output. 0 or -errno. Bounded
 * by the deadline: each pass waits for output, the exit or the deadline.
 */
static int cmd_wait(struct probe_ctx *ctx, int pidfd, int *out_r, int64_t deadline,
		    struct cmd_output *o, bool *timed_out)
{
	*timed_out = false;
	for (;;) {
		struct pollfd pf[3] = {
			{.fd = pidfd, .events = POLLIN},
			{.fd = *out_r, .events = POLLIN},
			{.fd = ctx->stop_fd, .events = POLLIN},
		};
		int ms = ms_until(deadline);

		if (probe_stopping(ctx) || !ms) {
			*timed_out = true;
			return 0;
		}
		if (poll(pf, 3, ms) < 0) {
			if (errno == EINTR)
				continue;
			*timed_out = true;
			return -errno;
		}
		if (pf[1].revents) {
			char buf[512];
			ssize_t n = read(*out_r, buf, sizeof(buf));

			if (n > 0) {
				keep_output(o->keep, &o->klen, &o->line_done, buf, (size_t)n);
			} else {
				/* EOF: every writer is gone; stop polling the pipe. */
				close(*out_r);
				*out_r = -1;
			}
		}
		if (pf[0].revents & POLLIN)
			return 0;
	}
}

/*
 * Output written just before the exit may still be in the pipe; what the killed group had
 * not written is gone, so this read cannot block for long.
 */
static void cmd_drain(int out_r, struct cmd_output *o)
{
	char buf[512];
	ssize_t n;

	if (out_r < 0 || o->line_done || fcntl(out_r, F_SETFL, O_NONBLOCK))
		return;
	for (int i = 0; i < 64 && (n = read(out_r, buf, sizeof(buf))) > 0; i++)
		keep_output(o->keep, &o->klen, &o->line_done, buf, (size_t)n);
}

/* The reading of a command that ended (or was ended) with status. */
static void cmd_judge(struct probe_ctx *ctx, const struct probe_command *p, bool timed_out,
		      int status, int64_t start, const char *keep, struct guard_reading *out)
{
	if (probe_stopping(ctx) && timed_out)
		guard_reading_error(out, guard_now_ns(), "stopped");
	else if (timed_out)
		guard_cmd_judge(p, GUARD_CMD_TIMED_OUT, 0, guard_now_ns() - start, keep,
				guard_now_ns(), out);
	else if (WIFEXITED(status))
		guard_cmd_judge(p, GUARD_CMD_EXITED, WEXITSTATUS(status), guard_now_ns() - start,
				keep, guard_now_ns(), out);
	else
		guard_cmd_judge(p, GUARD_CMD_SIGNALED, WTERMSIG(status), guard_now_ns() - start,
				keep, guard_now_ns(), out);
}

int probe_command_run(struct probe_ctx *ctx, const struct probe_command *p,
		      struct guard_reading *out)
{
	struct cmd_output o = {.keep = ""};
	int pipefd[2] = {-1, -1}, pidfd = -1, status = 0, spawn_err = 0, err;
	int64_t start, deadline, timeout = p->timeout_ns;
	bool timed_out;
	pid_t pid;

	start = guard_now_ns();
	if (timeout > ctx->deadline_ns - start)
		timeout = ctx->deadline_ns - start;
	if (timeout <= 0) {
		guard_reading_error(out, start, "no time left before the deadline");
		return 0;
	}
	deadline = start + timeout;
	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	err = cmd_spawn(p, pipefd[1], &pid, &spawn_err);
	close(pipefd[1]);
	if (err)
		goto close_pipe;
	if (spawn_err) {
		guard_reading_error(out, guard_now_ns(), "cannot run '%.100s': %s", p->argv[0],
				    strerror(spawn_err));
		goto close_pipe;
	}
	pidfd = pidfd_open_(pid);
	if (pidfd < 0) {
		err = -errno;
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto close_pipe;
	}
	err = cmd_wait(ctx, pidfd, &pipefd[0], deadline, &o, &timed_out);
	/* The leader is a zombie or still running, so its group id is still ours: kill what
	 * it left behind (or everything, on a timeout) before reaping it.
	 */
	kill(-pid, SIGKILL);
	cmd_drain(pipefd[0], &o);
	if (waitpid(pid, &status, 0) < 0 && !err)
		err = -errno;
	if (!err)
		cmd_judge(ctx, p, timed_out, status, start, o.keep, out);
	close(pidfd);
close_pipe:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	return err;
}
