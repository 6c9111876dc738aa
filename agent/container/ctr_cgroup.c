/* Container ids in cgroup paths (ctr_cgroup.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctr_cgroup.h"
#include "exp.h"

static bool is_id(const char *s, size_t len)
{
	return len == CTR_ID_LEN && strspn(s, "0123456789abcdef") >= CTR_ID_LEN;
}

/* The prefixes runtimes put before the id in a cgroup's name (conmon's never match: see below). */
static const struct {
	const char *prefix;
	int runtime;
} prefixes[] = {
	{"docker-", CONTAINER_RUNTIME_DOCKER},
	{"cri-containerd-", CONTAINER_RUNTIME_CONTAINERD},
	{"crio-", CONTAINER_RUNTIME_CRIO},
	{"libpod-", CONTAINER_RUNTIME_PODMAN},
};

/*
 * Whether one component (comp, len bytes, not NUL-terminated) names a container. parent is
 * the previous component's text (NULL at the top); kube says a kubepods component came
 * before. The monitors' own cgroups (crio-conmon-ID, libpod-conmon-ID) hold no container
 * process: "conmon-ID" is not an id, so they never match.
 */
static bool component_id(const char *comp, size_t len, const char *parent, size_t plen, bool kube,
			 char *id, int *runtime)
{
	static const char scope[] = ".scope";
	size_t sl = sizeof(scope) - 1;

	if (len > sl && !memcmp(comp + len - sl, scope, sl))
		len -= sl;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i].prefix);

		if (len > pl && !memcmp(comp, prefixes[i].prefix, pl) &&
		    is_id(comp + pl, len - pl)) {
			memcpy(id, comp + pl, CTR_ID_LEN);
			id[CTR_ID_LEN] = '\0';
			*runtime = prefixes[i].runtime;
			return true;
		}
	}
	if (!is_id(comp, len))
		return false;
	/* docker's cgroupfs driver: /docker/ID; kubelet's cgroupfs driver: /kubepods/.../ID. */
	if (parent && plen == 6 && !memcmp(parent, "docker", 6))
		*runtime = CONTAINER_RUNTIME_DOCKER;
	else if (kube)
		*runtime = CONTAINER_RUNTIME_CONTAINERD;
	else
		return false;
	memcpy(id, comp, CTR_ID_LEN);
	id[CTR_ID_LEN] = '\0';
	return true;
}

int ctr_cgroup_path_id(const char *path, char *id, int *runtime, size_t *end)
{
	const char *p = path, *parent = NULL;
	size_t plen = 0;
	bool kube = false, found = false;

	while (*p) {
		const char *comp;
		size_t len;
		char cid[CTR_ID_LEN + 1];
		int rt;

		while (*p == '/')
			p++;
		comp = p;
		len = strcspn(p, "/");
		if (!len)
			break;
		/* The innermost match wins: the container a process is in, not one around it. */
		if (component_id(comp, len, parent, plen, kube, cid, &rt)) {
			memcpy(id, cid, sizeof(cid));
			*runtime = rt;
			*end = (size_t)(comp + len - path);
			found = true;
		}
		if (len >= 8 && !memcmp(comp, "kubepods", 8))
			kube = true;
		parent = comp;
		plen = len;
		p += len;
	}
	return found ? 0 : -ENOENT;
}

/* Whether the comma-separated controller list ctl (len bytes) holds "freezer". */
static bool has_freezer(const char *ctl, size_t len)
{
	while (len) {
		size_t n = 0;

		while (n < len && ctl[n] != ',')
			n++;
		if (n == 7 && !memcmp(ctl, "freezer", 7))
			return true;
		ctl += n;
		len -= n;
		if (len) {
			ctl++;
			len--;
		}
	}
	return false;
}

int ctr_cgroup_parse(const char *text, struct ctr_cgroup *out)
{
	const char *line = text;
	bool found = false;

	memset(out, 0, sizeof(*out));
	while (*line) {
		size_t llen = strcspn(line, "\n"), end;
		const char *c1 = memchr(line, ':', llen), *c2;
		char path[CTR_PATH_MAX], id[CTR_ID_LEN + 1];
		int rt;

		c2 = c1 ? memchr(c1 + 1, ':', llen - (size_t)(c1 + 1 - line)) : NULL;
		if (c2 && (size_t)(line + llen - (c2 + 1)) < sizeof(path)) {
			size_t pl = (size_t)(line + llen - (c2 + 1));

			memcpy(path, c2 + 1, pl);
			path[pl] = '\0';
			if (!ctr_cgroup_path_id(path, id, &rt, &end)) {
				/* Lines of one process all name the same container, or none. */
				if (found && strcmp(id, out->id))
					return -EINVAL;
				if (!found || out->runtime == CONTAINER_RUNTIME_AUTO)
					out->runtime = rt;
				memcpy(out->id, id, sizeof(id));
				found = true;
				path[end] = '\0';
				if (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1)
					memcpy(out->v2, path, end + 1);
				else if (has_freezer(c1 + 1, (size_t)(c2 - c1 - 1)))
					memcpy(out->freezer, path, end + 1);
			}
		}
		line += llen;
		if (*line == '\n')
			line++;
	}
	return found ? 0 : -ENOENT;
}

int ctr_mountinfo_id(const char *text, char *id)
{
	static const char *const binds[] = {"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"};

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n'), *f = line, *root = NULL, *mnt = NULL;
		size_t len = nl ? (size_t)(nl - line) : strlen(line), rlen = 0, mlen = 0;

		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...": the 4th and 5th fields. */
		for (int field = 1; field <= 5 && f < line + len; field++) {
			const char *sp = memchr(f, ' ', (size_t)(line + len - f));
			size_t fl = sp ? (size_t)(sp - f) : (size_t)(line + len - f);

			if (field == 4) {
				root = f;
				rlen = fl;
			} else if (field == 5) {
				mnt = f;
				mlen = fl;
			}
			f += fl + 1;
		}
		line = nl ? nl + 1 : NULL;
		if (!root || !mnt)
			continue;
		for (size_t b = 0; b < sizeof(binds) / sizeof(binds[0]); b++) {
			const char *c = root, *prev = NULL;
			size_t prevlen = 0;

			if (mlen != strlen(binds[b]) || memcmp(mnt, binds[b], mlen))
				continue;
			/* 64 hex digits under "containers" or "overlay-containers". */
			while (c < root + rlen) {
				const char *slash = memchr(c, '/', (size_t)(root + rlen - c));
				size_t cl = slash ? (size_t)(slash - c) : (size_t)(root + rlen - c);

				if (is_id(c, cl) && prev &&
				    ((prevlen == 10 && !memcmp(prev, "containers", 10)) ||
				     (prevlen == 18 && !memcmp(prev, "overlay-containers", 18)))) {
					memcpy(id, c, CTR_ID_LEN);
					id[CTR_ID_LEN] = '\0';
					return 0;
				}
				if (cl) {
					prev = c;
					prevlen = cl;
				}
				c += cl + 1;
			}
		}
	}
	return -ENOENT;
}
