/*
 * Containers as the agent sees them (container.h). Which container a process is in comes from
 * /proc/PID/cgroup alone, whatever the runtime; names and compose labels come from the Docker
 * Engine API of docker or podman (`podman system service`), asked over its Unix socket with
 * libcurl. Nothing is cached: every resolve reads /proc and asks the engines again, so a
 * container that restarted is found under its new processes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "procfs.h"
#include "container.h"
#include "exp.h"
#include "http.h"
#include "log.h"
#include "policy.h"

/* An engine answers a local socket at once; a hung one must not hold a fault's apply long. */
#define ENGINE_CONNECT_TIMEOUT_MS 1000L
#define ENGINE_TIMEOUT_MS 3000L
/* A container list of some thousand containers fits; more is refused, not buffered. */
#define ENGINE_MAX_BODY (16u << 20)

struct engine {
	char path[108];
	bool up;
	char kind[16]; /* "docker" or "podman" once probed */
	char version[64];
	char error[200]; /* why the probe failed */
};

/* Set once at start (ctr_engines_init), read-only afterwards: safe from worker threads. */
static struct engine engines[CTR_MAX_ENGINES];
static size_t n_engines;
/* Set once at start (ctr_set_policy); NULL: nothing protected by name, no cap. */
static const struct policy *ctr_policy;

void ctr_set_policy(const struct policy *p)
{
	ctr_policy = p;
}

/*
 * From the headers of an engine's answer, which engine it is: podman's Libpod-Api-Version
 * header, or Docker's "Server: Docker/VERSION (linux)". Headers come one per call.
 */
static size_t engine_header(char *buf, size_t sz, size_t n, void *arg)
{
	struct engine *e = arg;
	size_t len = sz * n;
	const char *v;
	int vlen;

	if (len > 20 && !strncasecmp(buf, "Libpod-Api-Version:", 19)) {
		v = buf + 19;
		snprintf(e->kind, sizeof(e->kind), "podman");
	} else if (len > 15 && !strncasecmp(buf, "Server: Docker/", 15) && strcmp(e->kind, "podman")) {
		v = buf + 15;
		snprintf(e->kind, sizeof(e->kind), "docker");
	} else {
		return len;
	}
	while (v < buf + len && *v == ' ')
		v++;
	vlen = (int)strcspn(v, " \r\n");
	if (v + vlen > buf + len)
		vlen = (int)(buf + len - v);
	snprintf(e->version, sizeof(e->version), "%.*s", vlen, v);
	return len;
}

/*
 * GET path from the engine on socket sock into *b; with id, its headers say which engine it
 * is. 0, or -errno with err saying why (-EPROTO: an answer other than 200).
 */
static int engine_request(const char *sock, const char *path, struct http_body *b,
			  struct engine *id, char *err, size_t size)
{
	char url[256];
	long status = 0;
	CURLcode rc;
	CURL *c;
	int ret = 0;

	if (access(sock, F_OK)) {
		ret = -errno;
		snprintf(err, size, "%s: %s", sock, strerror(-ret));
		return ret;
	}
	c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ENGINE_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ENGINE_TIMEOUT_MS);
	/* Worker threads call this too: no signal-based timeouts. */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	if (id) {
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, engine_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, id);
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(err, size, "%s: %s", sock,
			 b->too_big ? "answer larger than 16 MiB" : curl_easy_strerror(rc));
		ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(err, size, "%s: GET %s answered %ld", sock, path, status);
		ret = -EPROTO;
	}
out:
	curl_easy_cleanup(c);
	return ret;
}

/* GET path from the engine on socket sock, as JSON. 0, or -errno with err saying why. */
static int engine_get(const char *sock, const char *path, json_t **out, char *err, size_t size)
{
	struct http_body b = {.max = ENGINE_MAX_BODY};
	json_error_t je;
	int ret;

	*out = NULL;
	ret = engine_request(sock, path, &b, NULL, err, size);
	if (!ret) {
		*out = json_loadb(b.buf ? b.buf : "", b.len, 0, &je);
		if (!*out) {
			snprintf(err, size, "%.80s: GET %.40s: not JSON: %.60s", sock, path, je.text);
			ret = -EPROTO;
		}
	}
	free(b.buf);
	return ret;
}

/*
 * Whether an engine answers on the socket, which one and its version, from the headers of
 * its /_ping (Docker and podman both serve it). Not /version: podman 4.3's took 5 to 8 s
 * here (it asks the OCI runtime and conmon for theirs), past the probe's bound, while its
 * /_ping answered in 0.2 s. An engine that names neither itself is taken for Docker.
 */
static void engine_probe(struct engine *e)
{
	struct http_body b = {.max = 4096};

	e->kind[0] = e->version[0] = '\0';
	e->up = !engine_request(e->path, "/_ping", &b, e, e->error, sizeof(e->error));
	free(b.buf);
	if (!e->up)
		return;
	e->error[0] = '\0';
	if (!e->kind[0])
		snprintf(e->kind, sizeof(e->kind), "docker");
}

int ctr_engines_init(const char *sockets)
{
	const char *p = sockets ? sockets : CTR_DEFAULT_ENGINES;
	static bool curl_ready;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			return -ENOMEM;
		curl_ready = true;
	}
	n_engines = 0;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len) {
			if (p[0] != '/' || len >= sizeof(engines[0].path) ||
			    n_engines == CTR_MAX_ENGINES)
				return -EINVAL;
			memset(&engines[n_engines], 0, sizeof(engines[0]));
			memcpy(engines[n_engines].path, p, len);
			n_engines++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	for (size_t i = 0; i < n_engines; i++) {
		engine_probe(&engines[i]);
		if (engines[i].up)
			log_info("container engine %s: %s %s", engines[i].path, engines[i].kind,
				 engines[i].version);
		else
			log_info("container engine %s: not answering (%s)", engines[i].path,
				 engines[i].error);
	}
	return 0;
}

json_t *ctr_engines_json(void)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n_engines; i++) {
		const struct engine *e = &engines[i];

		json_array_append_new(a, e->up ? json_pack("{s:s, s:b, s:s, s:s}", "socket",
							   e->path, "up", 1, "kind", e->kind,
							   "version", e->version)
					       : json_pack("{s:s, s:b, s:s}", "socket", e->path,
							   "up", 0, "error", e->error));
	}
	return a;
}

static int pid_cgroup(pid_t pid, struct ctr_cgroup *cg)
{
	char path[64], buf[8192];

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (procfs_read_file(path, buf, sizeof(buf), NULL))
		return -ESRCH;
	return ctr_cgroup_parse(buf, cg);
}

int ctr_pid_id(pid_t pid, char *id)
{
	struct ctr_cgroup cg;
	int ret = pid_cgroup(pid, &cg);

	if (ret == -EINVAL)
		ret = -ENOENT;
	if (!ret)
		memcpy(id, cg.id, sizeof(cg.id));
	return ret;
}

/*
 * Which container the agent itself runs in, if any: the one its /proc/self/cgroup names, else
 * (a private cgroup namespace shows "/") the one whose files the runtime bound into its mount
 * namespace (ctr_mountinfo_id()). self[0] is '\0' when neither says.
 */
static void self_container(char *self)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	self[0] = '\0';
	if (!ctr_pid_id(getpid(), self))
		return;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	if (getdelim(&text, &len, '\0', f) < 0 || ctr_mountinfo_id(text, self))
		self[0] = '\0';
	free(text);
	fclose(f);
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct ctr_info *)a)->id, ((const struct ctr_info *)b)->id);
}

/* Every container with a process here, from /proc alone, sorted by id. */
static int scan_proc(struct ctr_info **out, size_t *n)
{
	struct ctr_info *v = NULL;
	size_t cap = 0, cnt = 0;
	struct stat self_mnt, init_mnt;
	char self[CTR_ID_LEN + 1];
	struct dirent *de;
	bool by_mnt;
	DIR *d = opendir("/proc");

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct ctr_cgroup cg;
		unsigned long long st;
		struct ctr_info *c = NULL;
		char *end;
		pid_t pid = (pid_t)strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid_cgroup(pid, &cg))
			continue;
		st = procfs_starttime(pid);
		if (!st)
			continue;
		for (size_t i = 0; i < cnt && !c; i++)
			if (!strcmp(v[i].id, cg.id))
				c = &v[i];
		if (!c) {
			if (cnt == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct ctr_info *g = realloc(v, nc * sizeof(*v));

				if (!g) {
					closedir(d);
					free(v);
					return -ENOMEM;
				}
				v = g;
				cap = nc;
			}
			c = &v[cnt++];
			memset(c, 0, sizeof(*c));
			memcpy(c->id, cg.id, sizeof(c->id));
			c->runtime = cg.runtime;
			c->cg = cg;
		}
		c->n_procs++;
		/* The oldest process is the container's first (its init); ties: the lower pid. */
		if (!c->main_pid || st < c->main_start ||
		    (st == c->main_start && pid < c->main_pid)) {
			c->main_pid = pid;
			c->main_start = st;
			/* Its lines are the container's (an exec'd process may sit in a subgroup).
			 */
			c->cg = cg;
		}
	}
	closedir(d);
	self_container(self);
	/*
	 * An agent in a container of its own shares that container's mount namespace, whatever
	 * its cgroup namespace hides; on the host (pid 1's mount namespace), none does. Unknown
	 * when pid 1's cannot be read: then the ids above decide alone.
	 */
	by_mnt = !stat("/proc/self/ns/mnt", &self_mnt) && !stat("/proc/1/ns/mnt", &init_mnt) &&
		 (self_mnt.st_ino != init_mnt.st_ino || self_mnt.st_dev != init_mnt.st_dev);
	for (size_t i = 0; i < cnt; i++) {
		char ns[64];
		struct stat sb;

		snprintf(ns, sizeof(ns), "/proc/%d/ns/net", (int)v[i].main_pid);
		if (!stat(ns, &sb))
			v[i].netns = (uint64_t)sb.st_ino;
		snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", (int)v[i].main_pid);
		v[i].self = !strcmp(v[i].id, self) ||
			    (by_mnt && !stat(ns, &sb) && sb.st_ino == self_mnt.st_ino &&
			     sb.st_dev == self_mnt.st_dev);
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), by_id);
	*out = v;
	*n = cnt;
	return 0;
}

static void copy_label(json_t *labels, const char *key, char *dst, size_t size)
{
	const char *v = json_string_value(json_object_get(labels, key));

	snprintf(dst, size, "%s", v ? v : "");
}

/* Names and labels from every engine that answers; *answered counts them. */
static void join_engines(struct ctr_info *v, size_t n, int *answered, char *why, size_t size)
{
	*answered = 0;
	for (size_t e = 0; e < n_engines; e++) {
		json_t *list = NULL, *item;
		char err[200];
		size_t i;

		if (engine_get(engines[e].path, "/containers/json", &list, err, sizeof(err))) {
			if (why && size)
				snprintf(why, size, "%s", err);
			continue;
		}
		(*answered)++;
		json_array_foreach(list, i, item)
		{
			const char *id = json_string_value(json_object_get(item, "Id"));
			const char *name = json_string_value(
				json_array_get(json_object_get(item, "Names"), 0));
			json_t *labels = json_object_get(item, "Labels");
			struct ctr_info key, *c;

			if (!id || strlen(id) != CTR_ID_LEN)
				continue;
			memcpy(key.id, id, sizeof(key.id));
			c = bsearch(&key, v, n, sizeof(*v), by_id);
			/* Listed but without a process here: not running on this host. */
			if (!c)
				continue;
			if (name && name[0] == '/')
				name++;
			snprintf(c->name, sizeof(c->name), "%s", name ? name : "");
			copy_label(labels, "com.docker.compose.project", c->project,
				   sizeof(c->project));
			copy_label(labels, "com.docker.compose.service", c->service,
				   sizeof(c->service));
			_Static_assert(sizeof(c->engine) == sizeof(engines[e].path),
				       "an engine's socket path fits its container's record");
			memcpy(c->engine, engines[e].path, sizeof(c->engine));
			if (c->runtime == CONTAINER_RUNTIME_AUTO)
				c->runtime = engines[e].kind[0] == 'p' ? CONTAINER_RUNTIME_PODMAN
								       : CONTAINER_RUNTIME_DOCKER;
			if (ctr_policy && !c->protected_by[0])
				policy_container_protected(ctr_policy, c->name, labels,
							   c->protected_by,
							   sizeof(c->protected_by));
		}
		json_decref(list);
	}
}

int ctr_list(struct ctr_info **out, size_t *n)
{
	int answered, ret = scan_proc(out, n);

	if (!ret)
		join_engines(*out, *n, &answered, NULL, 0);
	return ret;
}

int ctr_guarded(struct ctr_info **out, size_t *n)
{
	const struct policy *p = ctr_policy;
	struct ctr_info *v = NULL;
	size_t cnt = 0, k = 0;
	char self[CTR_ID_LEN + 1];
	int ret;

	*out = NULL;
	*n = 0;
	/* Without rules, only the agent's own container, which needs no engine to find. */
	if (!p || !p->n_protected_containers) {
		self_container(self);
		if (!self[0])
			return 0;
		v = calloc(1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		memcpy(v->id, self, sizeof(v->id));
		v->self = true;
		*out = v;
		*n = 1;
		return 0;
	}
	ret = ctr_list(&v, &cnt);
	if (ret)
		return ret;
	for (size_t i = 0; i < cnt; i++)
		if (v[i].self || v[i].protected_by[0] || !v[i].engine[0])
			v[k++] = v[i];
	*out = v;
	*n = k;
	return 0;
}

json_t *ctr_info_json(const struct ctr_info *c)
{
	json_t *o =
		json_pack("{s:s, s:s, s:i, s:I, s:I}", "id", c->id, "runtime",
			  exp_container_runtime_name(c->runtime), "main_pid", (int)c->main_pid,
			  "processes", (json_int_t)c->n_procs, "netns_inode", (json_int_t)c->netns);
	json_t *cgs = json_object();

	if (!o || !cgs) {
		json_decref(o);
		json_decref(cgs);
		return NULL;
	}
	json_object_set_new(o, "name", c->name[0] ? json_string(c->name) : json_null());
	if (c->cg.v2[0])
		json_object_set_new(cgs, "unified", json_string(c->cg.v2));
	if (c->cg.freezer[0])
		json_object_set_new(cgs, "freezer", json_string(c->cg.freezer));
	json_object_set_new(o, "cgroups", cgs);
	if (c->project[0] || c->service[0])
		json_object_set_new(
			o, "compose",
			json_pack("{s:s, s:s}", "project", c->project, "service", c->service));
	if (c->engine[0])
		json_object_set_new(o, "engine", json_string(c->engine));
	if (c->protected_by[0])
		json_object_set_new(o, "protected", json_string(c->protected_by));
	if (c->self)
		json_object_set_new(o, "agent_own", json_true());
	return o;
}

json_t *ctr_list_json(void (*more)(json_t *entry, const struct ctr_info *c))
{
	struct ctr_info *v = NULL;
	size_t n = 0;
	json_t *o, *arr;

	if (ctr_list(&v, &n))
		return NULL;
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		json_t *c = ctr_info_json(&v[i]);

		if (!c)
			continue;
		if (more)
			more(c, &v[i]);
		json_array_append_new(arr, c);
	}
	free(v);
	o = json_pack("{s:o, s:o}", "engines", ctr_engines_json(), "containers",
		      arr ? arr : json_null());
	return o;
}

static bool ref_matches(const struct container_ref *ref, const struct ctr_info *c)
{
	if (ref->runtime != CONTAINER_RUNTIME_AUTO && c->runtime != ref->runtime)
		return false;
	if (ref->id)
		return !strncmp(c->id, ref->id, strlen(ref->id));
	if (ref->name)
		return !strcmp(c->name, ref->name);
	return !strcmp(c->project, ref->compose->project) &&
	       !strcmp(c->service, ref->compose->service);
}

/* "id 2e4763818fc5", "name 'web'", "compose service shop/db", for messages. */
static void ref_text(const struct container_ref *ref, char *buf, size_t size)
{
	const char *rt = ref->runtime == CONTAINER_RUNTIME_AUTO
				 ? ""
				 : exp_container_runtime_name(ref->runtime);

	if (ref->id)
		snprintf(buf, size, "%s%sid prefix %s", rt, *rt ? " " : "", ref->id);
	else if (ref->name)
		snprintf(buf, size, "%s%scontainer name '%s'", rt, *rt ? " " : "", ref->name);
	else
		snprintf(buf, size, "%s%scompose service %s/%s", rt, *rt ? " " : "",
			 ref->compose->project, ref->compose->service);
}

/* "'web' (2e4763818fc5)" or "2e4763818fc5", for messages. */
static void ctr_text(const struct ctr_info *c, char *buf, size_t size)
{
	if (c->name[0])
		snprintf(buf, size, "'%s' (%.12s)", c->name, c->id);
	else
		snprintf(buf, size, "%.12s", c->id);
}

/*
 * The containers a target names, refused as a whole when one of them may never be targeted
 * (the agent's own, a protected one, one the policy cannot be checked against) or when they
 * are more than the policy's cap. 0, or -EPERM, -ESRCH, -E2BIG with err saying why.
 */
static int refuse_protected(const char *what, const struct ctr_info *v, size_t n, char *err,
			    size_t size)
{
	const struct policy *p = ctr_policy;
	char c[160];

	for (size_t i = 0; i < n; i++) {
		ctr_text(&v[i], c, sizeof(c));
		if (v[i].self) {
			snprintf(err, size,
				 "target.container: %s is the agent's own container; the agent "
				 "never targets it",
				 c);
			return -EPERM;
		}
		if (v[i].protected_by[0]) {
			snprintf(err, size,
				 "target.container: container %s is protected by the policy's %s; "
				 "nothing was touched",
				 c, v[i].protected_by);
			return -ESRCH;
		}
		/* Protected by name or label, unless shown otherwise: names come from an engine. */
		if (p && p->n_protected_containers && !v[i].engine[0]) {
			snprintf(
				err, size,
				"target.container: container %s: no Docker Engine API names it, so "
				"the policy's protected_containers cannot be checked against it; "
				"nothing was touched",
				c);
			return -ESRCH;
		}
	}
	if (p && p->max_containers_per_fault && n > p->max_containers_per_fault) {
		snprintf(err, size,
			 "target.container: %s names %zu running containers, more than the "
			 "policy's max_containers_per_fault (%u); nothing was touched (narrow the "
			 "target, or raise the cap in the policy file)",
			 what, n, (unsigned)p->max_containers_per_fault);
		return -E2BIG;
	}
	return 0;
}

int ctr_resolve(const struct container_ref *ref, struct ctr_info **out, size_t *n, char *err,
		size_t size)
{
	struct ctr_info *v = NULL;
	size_t cnt = 0, hit = 0;
	char what[200], why[200] = "";
	int answered = 0, ret;

	*out = NULL;
	*n = 0;
	ref_text(ref, what, sizeof(what));
	if (!ref->id && (ref->runtime == CONTAINER_RUNTIME_CONTAINERD ||
			 ref->runtime == CONTAINER_RUNTIME_CRIO)) {
		snprintf(err, size,
			 "target.container: %s: names and compose labels come from the Docker "
			 "Engine API, which %s does not serve; give the container's id",
			 what, exp_container_runtime_name(ref->runtime));
		return -EOPNOTSUPP;
	}
	ret = scan_proc(&v, &cnt);
	if (ret) {
		snprintf(err, size, "target.container: reading /proc: %s", strerror(-ret));
		return ret;
	}
	join_engines(v, cnt, &answered, why, sizeof(why));
	if (!ref->id && !answered) {
		snprintf(err, size,
			 "target.container: %s: no Docker Engine API answers (%s%s), so names "
			 "and compose labels cannot be resolved; give the container's id, or "
			 "start the agent with --container-engines",
			 what, n_engines ? "last: " : "no socket configured", n_engines ? why : "");
		free(v);
		return -EOPNOTSUPP;
	}
	/* Compact the matches to the front, in id order. */
	for (size_t i = 0; i < cnt; i++)
		if (ref_matches(ref, &v[i]))
			v[hit++] = v[i];
	if (!hit) {
		snprintf(err, size, "target.container: no running container on this host has %s",
			 what);
		ret = -ESRCH;
	} else if (hit > 1 && !ref->compose) {
		snprintf(err, size,
			 "target.container: %s is ambiguous: %zu containers match (%.12s%s%s%s, "
			 "%.12s%s%s%s%s); give %s",
			 what, hit, v[0].id, v[0].name[0] ? " '" : "", v[0].name,
			 v[0].name[0] ? "'" : "", v[1].id, v[1].name[0] ? " '" : "", v[1].name,
			 v[1].name[0] ? "'" : "", hit > 2 ? ", ..." : "",
			 ref->id ? "a longer prefix" : "the runtime or the id");
		ret = -EINVAL;
	} else {
		ret = refuse_protected(what, v, hit, err, size);
	}
	if (ret) {
		free(v);
		return ret;
	}
	*out = v;
	*n = hit;
	return 0;
}

int ctr_resolve_one(const struct container_ref *ref, const char *one, const char *hint,
		    struct ctr_info **out, char *err, size_t size)
{
	size_t n = 0;
	int ret;

	ret = ctr_resolve(ref, out, &n, err, size);
	if (ret)
		return ret;
	if (n > 1) {
		snprintf(err, size, "target.container: %s, and %zu match (%.12s, %.12s%s); %s", one,
			 n, (*out)[0].id, (*out)[1].id, n > 2 ? ", ..." : "", hint);
		free(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

int ctr_freezer_v1_root(char *buf, size_t size)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS" */
	while (ret == -ENOENT && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - "), *save = NULL, *mnt = NULL, *fstype, *opts, *tok;
		int field = 0;

		if (!sep)
			continue;
		*sep = '\0';
		for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			if (++field == 5)
				mnt = tok;
		save = NULL;
		fstype = strtok_r(sep + 3, " ", &save);
		strtok_r(NULL, " ", &save);
		opts = strtok_r(NULL, " \n", &save);
		if (!mnt || !fstype || !opts || strcmp(fstype, "cgroup"))
			continue;
		save = NULL;
		for (tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (!strcmp(tok, "freezer")) {
				ret = (size_t)snprintf(buf, size, "%s", mnt) >= size ? -ENAMETOOLONG
										     : 0;
				break;
			}
	}
	fclose(f);
	return ret;
}
