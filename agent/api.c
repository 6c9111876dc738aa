/*
 * API routes (docs/api.md). Each route is one row: method, path pattern, handler. Every
 * request is authorised by the peer's credentials and audited: changes and refusals on a line
 * each, allowed reads counted in a summary. Errors use
 * {"error": {"code": "...", "message": "..."}}.
 */
#include <errno.h>
#include <malloc.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "audit.h"
#include "caps.h"
#include "container.h"
#include "core.h"
#include "events.h"
#include "exp.h"
#include "log.h"
#include "netns.h"
#include "policy.h"
#include "server.h"
#include "version.h"

#define API_MAX_GROUPS 256

struct api_req {
	struct agent *a;
	struct server_conn *conn;
	const struct http_msg *http;
	const char *arg; /* the {id} of the path, if the route has one */
	char query[256];
	const char *refusal; /* an AUDIT_REASON_* a route sets where the status cannot tell */
	bool deferred; /* answered later (and audited then): an off-loop apply */
};

struct api_route {
	const char *method;
	const char *pattern; /* "{id}" matches one path segment */
	int (*fn)(struct api_req *r, json_t **body);
};

static json_t *api_error(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static json_t *api_error(const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

static json_t *mechanisms_json(const struct agent *a)
{
	json_t *arr = json_array();

	for (int i = 0; i < PROBE__COUNT; i++) {
		const struct probe_result *r = &a->probe.r[i];
		json_t *m = json_pack("{s:s, s:b, s:s}", "name", probe_name(i), "available",
				      r->available, "used_for", probe_purpose(i));

		if (a->probe_err)
			json_object_set_new(m, "reason",
					    json_sprintf("the probe could not run: %s",
							 strerror(-a->probe_err)));
		else if (!r->available)
			json_object_set_new(m, "reason", json_string(r->reason));
		json_array_append_new(arr, m);
	}
	return arr;
}

static json_t *fault_types_json(struct agent *a)
{
	json_t *arr = json_array();

	for (size_t i = 0; fault_ops_all[i]; i++) {
		const struct fault_ops *t = fault_ops_all[i];
		char why[256];
		int err = fault_type_available(a, t, why, sizeof(why));
		json_t *o = json_pack("{s:s, s:b}", "name", t->name, "available", !err);
		char names[512];

		/*
		 * The capabilities the type needs, and the ones it uses when held (for the
		 * network types: CAP_SYS_ADMIN, to act in another network namespace).
		 */
		caps_names(t->caps, names, sizeof(names));
		json_object_set_new(o, "capabilities", json_string(names));
		if (t->caps_optional) {
			caps_names(t->caps_optional, names, sizeof(names));
			json_object_set_new(o, "capabilities_optional", json_string(names));
		}
		if (err)
			json_object_set_new(o, "reason", json_string(why));
		json_array_append_new(arr, o);
	}
	return arr;
}

/*
 * The agent's own footprint: resident set, and the heap it really holds (what a leak grows;
 * RSS also moves with the allocator's fragmentation and caching).
 */
static json_t *memory_json(void)
{
	struct mallinfo2 mi = mallinfo2();
	unsigned long long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%llu %llu", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return json_pack("{s:I, s:I}", "rss_bytes",
			 (json_int_t)(resident * (unsigned long long)sysconf(_SC_PAGESIZE)),
			 "heap_in_use_bytes", (json_int_t)(mi.uordblks + mi.hblkhd));
}

json_t *api_info(const struct agent *a)
{
	struct utsname u;
	json_t *caps = caps_to_json(), *policy = NULL, *info;

	if (uname(&u))
		memset(&u, 0, sizeof(u));
	if (!caps)
		caps = json_null();
	info = json_pack("{s:s, s:s, s:i, s:s, s:{s:s, s:s, s:s, s:s}, s:o, s:o, s:o, s:I, s:I}",
			 "agent", "faultlined", "version", FL_VERSION, "pid", (int)getpid(),
			 "socket", a->socket_path, "kernel", "sysname", u.sysname, "release",
			 u.release, "version", u.version, "machine", u.machine, "capabilities",
			 caps, "mechanisms", mechanisms_json(a), "fault_types",
			 fault_types_json((struct agent *)a), "lease_ttl_ms",
			 (json_int_t)a->lease_ttl_ms, "uptime_s",
			 (json_int_t)(time(NULL) - a->started));
	if (info)
		json_object_set_new(info, "memory", memory_json());
	if (info)
		json_object_set_new(info, "container_engines", ctr_engines_json());
	if (info && a->policy && !policy_to_json(a->policy, &policy)) {
		json_object_set_new(info, "policy", policy);
		json_object_set_new(info, "policy_file",
				    a->policy_path ? json_string(a->policy_path) : json_null());
	}
	return info;
}

static int route_info(struct api_req *r, json_t **body)
{
	*body = api_info(r->a);
	return *body ? 200 : 500;
}

/*
 * A container's interfaces with their addresses, read inside its network namespace, or why
 * they cannot be read.
 */
static void container_ifaces(json_t *entry, const struct ctr_info *c)
{
	json_t *ifs = NULL;
	char err[256];

	if (netns_pid_ifaces_json(c->main_pid, c->main_start, &ifs, err, sizeof(err)))
		json_object_set_new(entry, "interfaces_error", json_string(err));
	else
		json_object_set_new(entry, "interfaces", ifs);
}

/*
 * What containers run here: ids from /proc, names and labels from the engines (container.h),
 * interfaces from each one's network namespace (netns.h).
 */
static int route_containers(struct api_req *r, json_t **body)
{
	(void)r;
	*body = ctr_list_json(container_ifaces);
	return *body ? 200 : 500;
}

/*
 * A request whose work goes on off the loop (an apply or revert of an off_loop fault type):
 * it is answered, and audited with the status it really got, when the work is done.
 */
struct api_pending {
	struct agent *a;
	struct server_conn *conn; /* NULL once the client has gone away */
	struct peer peer;
	struct http_msg http; /* the request, for the audit record; body points to body */
	char *body;
	char id[24];  /* the lease a DELETE ends */
	int n, later; /* faults it reverts; of those, how many follow their apply */
};

static const char *refusal_of(int status);
static const char *error_message(const json_t *body);

/* Answer (if the client is still there), audit and forget a pending request. */
static void pending_finish(struct api_pending *p, int status, json_t *body)
{
	if (p->conn)
		server_answer(p->conn, status, body);
	else
		log_info("api: the client of pid %d went away before its %s %s ended (%d)",
			 (int)p->peer.pid, p->http.method, p->http.target, status);
	audit_record(p->a->audit, &p->peer, &p->http, status, refusal_of(status),
		     error_message(body));
	json_decref(body);
	free(p->body);
	free(p);
}

static void pending_free(struct api_pending *p)
{
	free(p->body);
	free(p);
}

static void pending_conn_closed(void *ctx, struct server_conn *c)
{
	struct api_pending *p = ctx;

	(void)c;
	p->conn = NULL;
}

static void pending_reverted(struct fault *f, int ret, void *ctx)
{
	pending_finish(ctx, ret ? 500 : 200,
		       ret ? api_error("revert_failed", "%s", f->error) :
			     json_pack("{s:s}", "reverted", f->id));
}

static struct api_pending *pending_new(struct api_req *r)
{
	struct api_pending *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->a = r->a;
	p->conn = r->conn;
	p->peer = *server_conn_peer(r->conn);
	p->http = *r->http;
	p->body = malloc(r->http->body_len ? r->http->body_len : 1);
	if (!p->body) {
		free(p);
		return NULL;
	}
	memcpy(p->body, r->http->body, r->http->body_len);
	p->http.body = p->body;
	return p;
}

/* The route answers later: its connection waits (and reads on) until pending_finish(). */
static int pending_defer(struct api_req *r, struct api_pending *p)
{
	if (server_defer(r->conn, pending_conn_closed, p))
		p->conn = NULL;
	r->deferred = true;
	return 0;
}

/* ---- leases ---- */

static int route_lease_create(struct api_req *r, json_t **body)
{
	json_int_t ttl = (json_int_t)r->a->lease_ttl_ms;
	struct lease *l;
	int err;

	if (r->http->body_len) {
		json_error_t jerr;
		json_t *in = json_loadb(r->http->body, r->http->body_len, 0, &jerr);

		if (!in || json_unpack_ex(in, &jerr, JSON_STRICT, "{s?I}", "ttl_ms", &ttl)) {
			*body = api_error("bad_request", "lease request: %s (expected {\"ttl_ms\": N})",
					  jerr.text);
			json_decref(in);
			return 400;
		}
		json_decref(in);
	}
	if (ttl < LEASE_TTL_MIN_MS || ttl > LEASE_TTL_MAX_MS) {
		*body = api_error("bad_request", "ttl_ms %lld is out of range [%d, %d]",
				  (long long)ttl, LEASE_TTL_MIN_MS, LEASE_TTL_MAX_MS);
		return 400;
	}
	err = core_lease_new(r->a, (uint64_t)ttl, &l);
	if (err) {
		*body = api_error("internal", "cannot create a lease: %s", strerror(-err));
		return 500;
	}
	*body = json_pack("{s:o}", "lease", core_lease_json(l));
	return 201;
}

static int route_leases(struct api_req *r, json_t **body)
{
	json_t *arr = json_array();

	for (struct lease *l = r->a->leases; l; l = l->next)
		json_array_append_new(arr, core_lease_json(l));
	*body = json_pack("{s:o}", "leases", arr);
	return 200;
}

static struct lease *find_lease(struct api_req *r, json_t **body)
{
	struct lease *l = core_lease_find(r->a, r->arg);

	if (!l)
		*body = api_error("not_found", "no lease '%s' (it may have expired)", r->arg);
	return l;
}

static int route_lease_renew(struct api_req *r, json_t **body)
{
	struct lease *l = find_lease(r, body);

	if (!l)
		return 404;
	core_lease_renew(l);
	*body = json_pack("{s:o}", "lease", core_lease_json(l));
	return 200;
}

static int lease_end_answer(const char *id, int failed, int later, json_t **body)
{
	if (failed) {
		*body = api_error("revert_failed",
				  "lease %s ended but some faults failed to revert (see GET /v1/faults)",
				  id);
		return 500;
	}
	/* Faults still being applied are reverted as soon as their apply completes. */
	*body = later ? json_pack("{s:s, s:i}", "ended", id, "reverting_after_apply", later) :
			json_pack("{s:s}", "ended", id);
	return 200;
}

static void pending_lease_ended(void *ctx, int failed)
{
	struct api_pending *p = ctx;
	json_t *body = NULL;
	int status = lease_end_answer(p->id, failed, p->later, &body);

	pending_finish(p, status, body);
}

static int route_lease_end(struct api_req *r, json_t **body)
{
	struct lease *l = find_lease(r, body);
	struct api_pending *p;
	int err;

	if (!l)
		return 404;
	p = pending_new(r);
	if (!p)
		return 500;
	snprintf(p->id, sizeof(p->id), "%s", l->id);
	/* Answered once every revert is done, off-loop ones included: the answer stays true. */
	err = core_lease_end_then(l, "the controller ended its lease", pending_lease_ended, p,
				  &p->later);
	if (err == -EINPROGRESS)
		return pending_defer(r, p);
	err = lease_end_answer(p->id, err != 0, p->later, body);
	pending_free(p);
	return err;
}

/* ---- faults ---- */

/* How a refused or failed apply is answered: one row per errno the fault types use. */
struct apply_error {
	int err;
	int status;
	const char *code;
};

static const struct apply_error *apply_error_of(int err)
{
	static const struct apply_error table[] = {
		{ -EPERM, 403, "forbidden" },	     /* policy */
		{ -EINVAL, 422, "invalid_fault" },   /* does not fit this host */
		{ -ENODEV, 422, "invalid_fault" },   /* no such interface */
		{ -ESRCH, 422, "invalid_fault" },    /* no matching process */
		{ -E2BIG, 422, "invalid_fault" },    /* more than the data path holds */
		{ -EBUSY, 409, "conflict" },	     /* clashes with an active fault */
		{ -EOPNOTSUPP, 503, "unavailable" }, /* mechanism missing on this kernel */
		{ 0, 500, "apply_failed" },
	};
	size_t i;

	for (i = 0; table[i].err; i++)
		if (table[i].err == err)
			break;
	return &table[i];
}

static int apply_answer(struct fault *f, int ret, const char *err, json_t **body)
{
	if (ret) {
		const struct apply_error *e = apply_error_of(ret);

		*body = api_error(e->code, "%s", err[0] ? err : strerror(-ret));
		return e->status;
	}
	if (f->state == FAULT_REVERTING || f->state == FAULT_REVERTED ||
	    f->state == FAULT_REVERT_FAILED) {
		/* A revert was asked for while it was being applied (docs/api.md). */
		*body = api_error(f->state == FAULT_REVERT_FAILED ? "revert_failed" : "reverted",
				  "fault %s was applied, then %s at once: %s", f->id,
				  f->state == FAULT_REVERT_FAILED ? "failed to revert" :
				  f->state == FAULT_REVERTING	   ? "is being reverted" :
								     "reverted",
				  f->revert_why ? f->revert_why : "a revert was asked for");
		json_object_set_new(*body, "fault", core_fault_json(f));
		return f->state == FAULT_REVERT_FAILED ? 500 : 409;
	}
	*body = json_pack("{s:o}", "fault", core_fault_json(f));
	return 201;
}

static void pending_applied(struct fault *f, int ret, const char *err, void *ctx)
{
	json_t *body = NULL;
	int status = apply_answer(f, ret, err, &body);

	pending_finish(ctx, status, body);
}

static int route_fault_apply(struct api_req *r, json_t **body)
{
	struct api_pending *pending;
	struct lease *l = find_lease(r, body);
	struct diag_list diags;
	struct fault_spec *spec = NULL;
	const struct fault_ops *type;
	struct fault *f;
	json_t *spec_json = NULL;
	char err[FAULT_ERR_SIZE] = "";
	int ret;

	if (!l)
		return 404;
	if (diag_init(&diags, "request"))
		return 500;
	ret = exp_fault_parse(r->http->body, r->http->body_len, &spec, &diags);
	if (ret) {
		json_t *problems = NULL;

		diag_sort(&diags);
		diag_to_json(&diags, &problems);
		*body = api_error("invalid_fault", "the fault is invalid (%zu problem%s)",
				  diag_total(&diags), diag_total(&diags) == 1 ? "" : "s");
		json_object_set_new(json_object_get(*body, "error"), "problems",
				    problems ? problems : json_array());
		diag_clear(&diags);
		return ret == -ENOMEM ? 500 : 422;
	}
	diag_clear(&diags);
	/* The policy is the agent's own word: checked before anything else can happen. */
	ret = policy_check(r->a->policy, spec, err, sizeof(err));
	if (ret) {
		*body = api_error("forbidden", "%s", err);
		log_warn("api: refused by policy: %s", err);
		r->a->metrics.requests_refused++;
		r->refusal = AUDIT_REASON_POLICY;
		exp_fault_free(spec);
		return 403;
	}
	type = fault_ops_of(spec->type);
	if (!type) {
		*body = api_error("unsupported", "this agent cannot apply '%s' faults yet",
				  exp_fault_type_name(spec->type));
		exp_fault_free(spec);
		return 501;
	}
	/* Before anything is validated against the host or changed: nothing to undo. */
	ret = fault_type_available(r->a, type, err, sizeof(err));
	if (ret) {
		*body = api_error("unavailable", "%s is unavailable on this host: %s", type->name,
				  err);
		exp_fault_free(spec);
		return 503;
	}
	if (exp_fault_to_json(spec, &spec_json)) {
		exp_fault_free(spec);
		return 500;
	}
	pending = pending_new(r);
	if (!pending) {
		exp_fault_free(spec);
		json_decref(spec_json);
		return 500;
	}
	ret = core_fault_apply(r->a, l, type, spec, spec_json,
			       spec->duration_ns > 0 ? (uint64_t)(spec->duration_ns / 1000000) : 0,
			       pending->peer.pid, pending_applied, pending, &f, err, sizeof(err));
	if (ret == -EINPROGRESS)
		/* Connections answer in order, so the next request waits for this answer. */
		return pending_defer(r, pending);
	pending_free(pending);
	return apply_answer(f, ret, err, body);
}

/* ---- resolve: what faults would hit, nothing applied ---- */

/* Most faults one resolve request may carry: each one scans /proc or the interfaces. */
#define API_RESOLVE_MAX 256

static json_t *refusal(int status, const char *code, const char *msg)
{
	return json_pack("{s:i, s:s, s:s}", "status", status, "code", code, "message", msg);
}

/* One fault of a resolve request: the checks of an apply, in the same order, then resolve. */
static json_t *resolve_one(struct api_req *r, const json_t *in, size_t index)
{
	const char *name = json_string_value(json_object_get(in, "name"));
	const char *tname = json_string_value(json_object_get(in, "type"));
	json_t *res, *target = NULL, *why = NULL;
	struct fault_spec *spec = NULL;
	const struct fault_ops *type;
	char err[FAULT_ERR_SIZE] = "";
	struct diag_list diags;
	char *text;
	int ret;

	res = json_pack("{s:I, s:s?, s:s?}", "index", (json_int_t)index, "name", name, "type",
			tname);
	text = json_dumps(in, JSON_COMPACT);
	if (!res || !text || diag_init(&diags, "request")) {
		free(text);
		json_decref(res);
		return NULL;
	}
	ret = exp_fault_parse(text, strlen(text), &spec, &diags);
	free(text);
	if (ret) {
		json_t *problems = NULL;

		diag_sort(&diags);
		diag_to_json(&diags, &problems);
		why = refusal(422, "invalid_fault", "the fault is invalid");
		json_object_set_new(why, "problems", problems ? problems : json_array());
		diag_clear(&diags);
		goto done;
	}
	diag_clear(&diags);
	ret = policy_check(r->a->policy, spec, err, sizeof(err));
	if (ret) {
		why = refusal(403, "forbidden", err);
		goto done;
	}
	type = fault_ops_of(spec->type);
	if (!type) {
		why = refusal(501, "unsupported", "this agent cannot apply faults of this type");
		goto done;
	}
	ret = fault_type_available(r->a, type, err, sizeof(err));
	if (ret) {
		why = refusal(503, "unavailable", err);
		goto done;
	}
	ret = fault_resolve(r->a, type, spec, server_conn_peer(r->conn)->pid, &target, err,
			    sizeof(err));
	if (ret) {
		const struct apply_error *e = apply_error_of(ret);

		why = refusal(e->status, e->code, err[0] ? err : strerror(-ret));
	}
done:
	exp_fault_free(spec);
	json_object_set_new(res, "would_apply", json_boolean(!why));
	if (target)
		json_object_set_new(res, "target", target);
	if (why)
		json_object_set_new(res, "refused", why);
	return res;
}

/*
 * POST /v1/resolve: one fault as for an apply, or {"faults": [...]}. Read-only: nothing is
 * applied, journaled or signalled, and no lease is needed.
 */
static int route_resolve(struct api_req *r, json_t **body)
{
	json_t *in, *list, *out, *one = NULL;
	json_error_t jerr;
	size_t i;

	in = json_loadb(r->http->body, r->http->body_len, 0, &jerr);
	if (!json_is_object(in)) {
		*body = api_error(
			"bad_request",
			"resolve request: %s (expected a fault object or {\"faults\": [...]})",
			in ? "not an object" : jerr.text);
		json_decref(in);
		return 400;
	}
	list = json_object_get(in, "faults");
	if (!list || json_object_get(in, "type")) {
		one = json_pack("[O]", in);
		list = one;
	}
	if (!json_is_array(list) || !json_array_size(list) ||
	    json_array_size(list) > API_RESOLVE_MAX) {
		*body = api_error("bad_request", "faults: expected a list of 1 to %d faults",
				  API_RESOLVE_MAX);
		json_decref(one);
		json_decref(in);
		return 400;
	}
	out = json_array();
	for (i = 0; out && i < json_array_size(list); i++) {
		json_t *res = resolve_one(r, json_array_get(list, i), i);

		if (!res || json_array_append_new(out, res)) {
			json_decref(out);
			out = NULL;
		}
	}
	json_decref(one);
	json_decref(in);
	if (!out) {
		*body = api_error("internal", "out of memory");
		return 500;
	}
	*body = json_pack("{s:o}", "faults", out);
	return 200;
}

static int route_faults(struct api_req *r, json_t **body)
{
	*body = json_pack("{s:o}", "faults", core_faults_json(r->a));
	return 200;
}

static int route_fault_get(struct api_req *r, json_t **body)
{
	struct fault *f = core_fault_find(r->a, r->arg);

	if (!f) {
		*body = api_error("not_found", "no fault '%s'", r->arg);
		return 404;
	}
	*body = json_pack("{s:o}", "fault", core_fault_json(f));
	return 200;
}

static int route_fault_revert(struct api_req *r, json_t **body)
{
	struct fault *f = core_fault_find(r->a, r->arg);
	struct api_pending *pending;
	char id[sizeof(f->id)];
	int err;

	if (!f) {
		*body = api_error("not_found", "no fault '%s'", r->arg);
		return 404;
	}
	snprintf(id, sizeof(id), "%s", f->id);
	if (f->busy && f->state == FAULT_APPLYING) {
		/* Being applied on a worker thread: the revert follows as soon as it is done. */
		err = core_fault_revert(f, "the controller reverted it");
		if (err != -EINPROGRESS) {
			*body = api_error("internal", "%s", strerror(-err));
			return 500;
		}
		*body = json_pack("{s:s, s:b}", "reverting", id, "after_apply", 1);
		return 202;
	}
	/* Being reverted; a fault busy dropping one of its containers reverts right after. */
	if (f->busy && !(f->state == FAULT_ACTIVE && !f->revert_why)) {
		*body = json_pack("{s:s}", "reverting", id);
		return 202;
	}
	pending = pending_new(r);
	if (!pending)
		return 500;
	err = core_fault_revert_then(f, "the controller reverted it", pending_reverted, pending);
	if (err == -EINPROGRESS)
		/* Off the loop (many workers to stop): answered when it is done. */
		return pending_defer(r, pending);
	pending_free(pending);
	if (err) {
		*body = api_error("revert_failed", "%s", err == -ENOMEM ? strerror(ENOMEM) : f->error);
		return 500;
	}
	*body = json_pack("{s:s}", "reverted", id);
	return 200;
}

static int revert_all_answer(int n, int failed, int later, json_t **body)
{
	if (failed) {
		*body = api_error("revert_failed", "%d of %d faults failed to revert", failed, n);
		return 500;
	}
	/* Faults still being applied are reverted as soon as their apply completes. */
	*body = later ? json_pack("{s:i, s:i}", "reverted", n - later, "reverting_after_apply",
				  later) :
			json_pack("{s:i}", "reverted", n);
	return 200;
}

static void pending_reverted_all(void *ctx, int failed)
{
	struct api_pending *p = ctx;
	json_t *body = NULL;
	int status = revert_all_answer(p->n, failed, p->later, &body);

	pending_finish(p, status, body);
}

static int route_revert_all(struct api_req *r, json_t **body)
{
	struct api_pending *p = pending_new(r);
	int failed;

	if (!p)
		return 500;
	for (struct fault *f = r->a->faults; f; f = f->next)
		p->n++;
	/* Answered once every revert is done, off-loop ones included. */
	failed = core_revert_all_then(r->a, "the controller reverted all faults",
				      pending_reverted_all, p, &p->later);
	if (failed == -EINPROGRESS)
		return pending_defer(r, p);
	if (failed < 0) {
		pending_free(p);
		*body = api_error("internal", "%s", strerror(-failed));
		return 500;
	}
	failed = revert_all_answer(p->n, failed, p->later, body);
	pending_free(p);
	return failed;
}

static int route_events(struct api_req *r, json_t **body)
{
	unsigned long long since = 0;
	const char *p = strstr(r->query, "since=");
	int err;

	if (p) {
		char *end;

		since = strtoull(p + 6, &end, 10);
		if (*end && *end != '&') {
			*body = api_error("bad_request", "since must be an event number");
			return 400;
		}
	}
	err = events_subscribe(r->a->events, r->conn, p != NULL, since);
	if (err) {
		*body = api_error("internal", "cannot open the event stream: %s", strerror(-err));
		return 500;
	}
	return 0; /* the connection is now a stream */
}

static const struct api_route routes[] = {
	{ "GET", "/v1/info", route_info },
	{ "GET", "/v1/containers", route_containers },
	{ "GET", "/v1/leases", route_leases },
	{ "POST", "/v1/leases", route_lease_create },
	{ "POST", "/v1/leases/{id}/renew", route_lease_renew },
	{ "DELETE", "/v1/leases/{id}", route_lease_end },
	{ "POST", "/v1/leases/{id}/faults", route_fault_apply },
	{ "POST", "/v1/resolve", route_resolve },
	{ "GET", "/v1/faults", route_faults },
	{ "DELETE", "/v1/faults", route_revert_all },
	{ "GET", "/v1/faults/{id}", route_fault_get },
	{ "DELETE", "/v1/faults/{id}", route_fault_revert },
	{ "GET", "/v1/events", route_events },
};

/* Match path against pattern; the {id} segment is copied into arg. */
static int match(const char *pattern, const char *path, char *arg, size_t size)
{
	while (*pattern && *path) {
		if (!strncmp(pattern, "{id}", 4)) {
			size_t n = strcspn(path, "/");

			if (!n || n >= size)
				return 0;
			for (size_t i = 0; i < n; i++) {
				char c = path[i];

				if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
					return 0;
			}
			memcpy(arg, path, n);
			arg[n] = '\0';
			pattern += 4;
			path += n;
			continue;
		}
		if (*pattern++ != *path++)
			return 0;
	}
	return !*pattern && !*path;
}

/* Root, or a member of the faultline group (primary or supplementary). */
static int authorised(const struct agent *a, const struct peer *p, const char **why)
{
	struct passwd pw, *res = NULL;
	gid_t groups[API_MAX_GROUPS];
	int n = API_MAX_GROUPS;
	char buf[4096];

	if (p->uid == 0)
		return 1;
	if (a->group == (gid_t)-1) {
		*why = "only root may use the agent (no faultline group exists)";
		return 0;
	}
	if (p->gid == a->group)
		return 1;
	if (!getpwuid_r(p->uid, &pw, buf, sizeof(buf), &res) && res &&
	    getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) >= 0) {
		for (int i = 0; i < n; i++)
			if (groups[i] == a->group)
				return 1;
	}
	*why = "the caller is neither root nor in the faultline group";
	return 0;
}

/* Why a route refused a request, from its status; NULL for answers that are not refusals. */
static const char *refusal_of(int status)
{
	switch (status) {
	case 400:
	case 422:
		return AUDIT_REASON_INVALID;
	case 403:
		return AUDIT_REASON_POLICY;
	case 404:
	case 405:
		return AUDIT_REASON_NOT_FOUND;
	case 409:
		return AUDIT_REASON_CONFLICT;
	case 501:
	case 503:
		return AUDIT_REASON_UNAVAILABLE;
	default:
		/* Any other client error is still a refusal of the request as sent. */
		return status >= 400 && status < 500 ? AUDIT_REASON_INVALID : NULL;
	}
}

static const char *error_message(const json_t *body)
{
	return json_string_value(json_object_get(json_object_get(body, "error"), "message"));
}

/*
 * Audit one answered request: an allowed GET (every GET route only reads) is counted in its
 * client's summary; changes, refusals and failures get a line of their own.
 */
static void audit_answer(struct agent *a, const struct peer *peer, const struct http_msg *req,
			 const char *path, int status, const char *refusal, const json_t *body)
{
	if (!refusal && status < 400 && !strcmp(req->method, "GET")) {
		audit_record_read(a->audit, peer, req, path, status);
		return;
	}
	audit_record(a->audit, peer, req, status, refusal, error_message(body));
}

void api_handle(void *ctx, struct server_conn *conn, const struct http_msg *req, int *status,
		json_t **body)
{
	struct agent *a = ctx;
	const struct peer *peer = server_conn_peer(conn);
	struct api_req r = { .a = a, .conn = conn, .http = req };
	char path[sizeof(req->target)], arg[64] = "";
	const char *why = NULL;
	int path_known = 0;
	char *q;

	snprintf(path, sizeof(path), "%s", req->target);
	q = strchr(path, '?');
	if (q) {
		snprintf(r.query, sizeof(r.query), "%s", q + 1);
		*q = '\0';
	}
	a->metrics.requests++;
	if (!authorised(a, peer, &why)) {
		a->metrics.requests_refused++;
		*status = 403;
		*body = api_error("forbidden", "%s", why);
		log_warn("api: refused uid %u pid %d: %s %s: %s", (unsigned)peer->uid,
			 (int)peer->pid, req->method, req->target, why);
		audit_record(a->audit, peer, req, *status, AUDIT_REASON_AUTH, why);
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		int answered;

		if (!match(routes[i].pattern, path, arg, sizeof(arg)))
			continue;
		path_known = 1;
		if (strcmp(req->method, routes[i].method))
			continue;
		r.arg = arg;
		*status = routes[i].fn(&r, body);
		if (r.deferred)
			return;
		log_debug("api: uid %u pid %d: %s %s -> %d", (unsigned)peer->uid, (int)peer->pid,
			  req->method, req->target, *status);
		/* Status 0: the connection became an event stream, answered 200. */
		answered = *status ? *status : 200;
		audit_answer(a, peer, req, path, answered,
			     r.refusal ? r.refusal : refusal_of(answered), *body);
		return;
	}
	*status = path_known ? 405 : 404;
	*body = api_error(path_known ? "method_not_allowed" : "not_found", "%s",
			  path_known ? "this path does not accept that method" : "no such endpoint");
	audit_answer(a, peer, req, path, *status, AUDIT_REASON_NOT_FOUND, *body);
}

/* An HTTP-level refusal by the server, before any route saw the request (server.c). */
void api_reject(void *ctx, struct server_conn *conn, const struct http_msg *req, int status,
		const char *code, const char *message)
{
	struct agent *a = ctx;

	audit_record(a->audit, server_conn_peer(conn), req, status,
		     status == 413   ? AUDIT_REASON_TOO_LARGE
		     : status == 408 ? AUDIT_REASON_TIMEOUT
				     : AUDIT_REASON_MALFORMED,
		     message);
	log_debug("api: uid %u pid %d: refused before routing: %d %s",
		  (unsigned)server_conn_peer(conn)->uid, (int)server_conn_peer(conn)->pid, status,
		  code);
}
