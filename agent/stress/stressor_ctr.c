/*
 * Stressors inside a container: the workers of a stress fault with a container target join
 * the cgroups of the container's main process (every v1 hierarchy with controllers that
 * names the container, and the unified one) before they exec, so the container's CPU quota
 * and memory limit apply to them and its OOM killer meets them. They stay the agent's
 * children, killed by pid at stop (unreaped children: their pids cannot be reused).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"
#include "agent.h"
#include "cgroup.h"
#include "container.h"
#include "exp.h"
#include "fault.h"
#include "log.h"
#include "procsel.h"
#include "stressor.h"

/* Why a stressor's container target must name one container, and what to do about it. */
#define ONE_CTR "a stressor runs in one container"
#define ONE_CTR_HINT "name one by id or name"

/*
 * The one container a stressor's target names, refused when it holds a protected process:
 * workers charged to its cgroups (a memory stress meets its OOM killer first) or a file
 * filling its filesystem would starve or break a package manager or a runtime's daemon there.
 * 0 with *c to free(), or -errno with err.
 */
static int resolve_guarded(struct fault *f, struct ctr_info **c, char *err, size_t size)
{
	const struct container_ref *ref = f->spec->target.stress.container;
	struct procsel_guard g;
	int ret = ctr_resolve_one(ref, ONE_CTR, ONE_CTR_HINT, c, err, size);

	if (ret)
		return ret;
	procsel_guard_init(&g, f->peer_pid, f->agent->policy);
	/* The workers hit none of the container's processes: no cap on how many it has. */
	g.max_procs = 0;
	ret = procsel_container_guard(ref, &g, "stressed", err, size);
	if (ret) {
		free(*c);
		*c = NULL;
	}
	return ret;
}

int stressor_resolve(struct agent *a, struct fault *f, json_t **out, char *err, size_t size)
{
	struct ctr_info *c = NULL;
	int ret;

	*out = NULL;
	if (exp_fault_target_kind(f->spec->type) != FAULT_TARGET_STRESS ||
	    !f->spec->target.stress.container)
		return 0;
	ret = resolve_guarded(f, &c, err, size);
	if (ret)
		return ret;
	/* As a process fault's resolve lists them (GET /v1/containers' entries). */
	*out = json_pack("{s:[o]}", "containers", ctr_info_json(&c[0]));
	free(c);
	return *out ? 0 : -ENOMEM;
}

/* Does the space- or comma-separated list have the token tok (of length n)? */
static bool has_token(const char *list, const char *tok, size_t n)
{
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ", \n");

		if (len == n && !strncmp(p, tok, n))
			return true;
		p += len;
		p += strspn(p, ", \n");
	}
	return false;
}

/*
 * Mount point of the v1 hierarchy holding exactly the controllers ctrls (comma-separated,
 * as /proc/PID/cgroup lists them): every one must be among the mount's super options.
 */
static int v1_mount(const char *ctrls, char *buf, size_t size)
{
	char line[1024], mnt[512], fstype[32], opts[512];
	int ret = -ENOENT;
	FILE *fp = fopen("/proc/self/mountinfo", "re");

	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		/* ID PARENT MAJ:MIN ROOT MOUNT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER */
		const char *dash = strstr(line, " - ");
		bool all = true;

		if (!dash || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1 ||
		    sscanf(dash + 3, "%31s %*s %511s", fstype, opts) != 2 ||
		    strcmp(fstype, "cgroup"))
			continue;
		for (const char *c = ctrls; *c && all;) {
			size_t len = strcspn(c, ",");

			all = has_token(opts, c, len);
			c += len;
			c += *c == ',';
		}
		if (all) {
			snprintf(buf, size, "%s", mnt);
			ret = 0;
			break;
		}
	}
	fclose(fp);
	return ret;
}

static int add_join(struct stressor *s, const char *dir, char *err, size_t size)
{
	char path[CTR_PATH_MAX + 320];
	int fd;

	if (s->n_join >= STRESSOR_MAX_JOIN) {
		snprintf(err, size, "more than %d cgroups to join", STRESSOR_MAX_JOIN);
		return -E2BIG;
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		/* A hierarchy the agent cannot write (read-only, not ours) is left out. */
		if (e == EACCES || e == EPERM || e == EROFS) {
			log_warn("stressor: cannot join %s: %s; left out", dir, strerror(e));
			return 0;
		}
		snprintf(err, size, "opening %s: %s", path, strerror(e));
		return -e;
	}
	s->join_dir[s->n_join] = strdup(dir);
	if (!s->join_dir[s->n_join]) {
		close(fd);
		return -ENOMEM;
	}
	s->join_fd[s->n_join++] = fd;
	return 0;
}

/* Join the cgroups of one /proc/PID/cgroup line, if it names the container id. */
static int join_line(struct stressor *s, char *line, const char *id, char *err, size_t size)
{
	char *ctrls = strchr(line, ':'), *path, root[512], lid[CTR_ID_LEN + 1];
	char dir[CTR_PATH_MAX + 300];
	size_t end;
	int runtime, ret;

	if (!ctrls || !(path = strchr(ctrls + 1, ':')))
		return 0;
	*path++ = '\0';
	ctrls++;
	path[strcspn(path, "\n")] = '\0';
	/* Only the container's own cgroups: never the host's that a hierarchy leaves it in. */
	if (ctr_cgroup_path_id(path, lid, &runtime, &end) || strcmp(lid, id))
		return 0;
	if (!*ctrls) {
		ret = cgroup_v2_root(root, sizeof(root));
	} else if (!strncmp(ctrls, "name=", 5)) {
		return 0; /* A named hierarchy (name=systemd) holds no resource. */
	} else {
		ret = v1_mount(ctrls, root, sizeof(root));
	}
	if (ret)
		return 0;
	snprintf(dir, sizeof(dir), "%s%s", root, path);
	ret = add_join(s, dir, err, size);
	if (ret)
		return ret;
	/* Where the container's OOM kills are counted: v1's memory.oom_control, else v2's. */
	if (*ctrls && has_token(ctrls, "memory", 6)) {
		free(s->oom_file);
		if (asprintf(&s->oom_file, "%s/memory.oom_control", dir) < 0)
			s->oom_file = NULL;
	} else if (!*ctrls && !s->oom_file) {
		if (asprintf(&s->oom_file, "%s/memory.events", dir) < 0)
			s->oom_file = NULL;
	}
	return 0;
}

int stressor_container(struct stressor *s, struct fault *f, char *err, size_t size)
{
	const struct fault_spec *spec = f->spec;
	const struct container_ref *ref;
	struct ctr_info *c = NULL;
	char path[64], *text = NULL, *line, *save;
	size_t len = 0;
	FILE *fp;
	int ret;

	if (exp_fault_target_kind(spec->type) != FAULT_TARGET_STRESS)
		return 0;
	ref = spec->target.stress.container;
	if (!ref)
		return 0;
	ret = resolve_guarded(f, &c, err, size);
	if (ret)
		return ret;
	memcpy(s->ctr_id, c[0].id, sizeof(s->ctr_id));
	snprintf(s->ctr_desc, sizeof(s->ctr_desc), "container %s (%.12s)",
		 c[0].name[0] ? c[0].name : c[0].id, c[0].id);
	s->ctr_pid = c[0].main_pid;
	s->ctr_start = c[0].main_start;
	s->ctr_netns = c[0].netns;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)c[0].main_pid);
	fp = fopen(path, "re");
	if (!fp) {
		ret = -errno;
		snprintf(err, size, "target.container: %.12s: reading %s: %s", c[0].id, path,
			 strerror(-ret));
		goto out;
	}
	ret = getdelim(&text, &len, '\0', fp) < 0 ? -EIO : 0;
	fclose(fp);
	if (ret) {
		snprintf(err, size, "target.container: %.12s: reading %s", c[0].id, path);
		goto out;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ret = join_line(s, line, c[0].id, err, size);
		if (ret)
			goto out;
	}
	if (!s->n_join) {
		snprintf(err, size,
			 "target.container: %.12s: none of its cgroups is one the agent can join",
			 c[0].id);
		ret = -EACCES;
		goto out;
	}
	/* The journal names the container and the cgroups its workers joined. */
	if (f->undo && !json_object_set_new(f->undo, "container", stressor_container_json(s)))
		fault_journal(f);
	log_info("fault %s: workers join %d cgroup%s of container %.12s", f->id, s->n_join,
		 s->n_join == 1 ? "" : "s", s->ctr_id);
out:
	free(text);
	free(c);
	return ret;
}

int stressor_target_container(const struct stressor *s, struct fault_target *t)
{
	if (!s || !s->ctr_id[0] || !s->ctr_pid)
		return -ENOENT;
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", s->ctr_id);
	snprintf(t->desc, sizeof(t->desc), "%s", s->ctr_desc);
	t->pid = s->ctr_pid;
	t->starttime = s->ctr_start;
	t->netns = s->ctr_netns;
	return 0;
}

int stressor_root_target(const struct stressor_root *r, struct fault_target *t)
{
	if (!r || r->dirfd < 0 || !r->ctr.id[0] || !r->ctr.pid)
		return -ENOENT;
	*t = r->ctr;
	return 0;
}

json_t *stressor_container_json(const struct stressor *s)
{
	json_t *dirs = json_array();

	for (int i = 0; dirs && i < s->n_join; i++)
		json_array_append_new(dirs, json_string(s->join_dir[i]));
	return json_pack("{s:s, s:o}", "id", s->ctr_id, "cgroups", dirs ? dirs : json_array());
}

void stressor_container_release(struct stressor *s)
{
	for (int i = 0; i < s->n_join; i++) {
		close(s->join_fd[i]);
		free(s->join_dir[i]);
	}
	s->n_join = 0;
	free(s->oom_file);
	s->oom_file = NULL;
}

int stressor_root_dir(pid_t pid, unsigned long long start, const char *dir, int *dirfd)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		/*
		 * Every component, symlinks included, resolves inside the container's root: an
		 * absolute symlink planted there leads to the container's path of that name,
		 * never the host's, and no /proc magic link (a door to any file) is followed.
		 */
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	char root[64];
	int rootfd, fd, ret = 0;

	snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	/* The root of that very process: not of one that reused its pid. */
	if (procfs_starttime(pid) != start) {
		close(rootfd);
		return -ESRCH;
	}
	fd = (int)syscall(SYS_openat2, rootfd, dir, &how, sizeof(how));
	if (fd < 0)
		ret = -errno;
	else
		*dirfd = fd;
	close(rootfd);
	return ret;
}

/* The mount id of an open fd, from /proc/self/fdinfo; -errno. */
static int fd_mnt_id(int fd, int *id)
{
	char path[64], line[256];
	int ret = -ENOENT;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "mnt_id: %d", id) == 1) {
			ret = 0;
			break;
		}
	fclose(fp);
	return ret;
}

int stressor_upper_dir(pid_t pid, unsigned long long start, int dirfd, char *upper, size_t size)
{
	char path[64], line[8192], mnt[4096], *sep, *opt;
	int id, mid, ret;
	FILE *fp;

	ret = fd_mnt_id(dirfd, &id);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	fp = fopen(path, "re");
	if (!fp)
		return errno == ENOENT ? -ESRCH : -errno;
	ret = -ENOENT;
	while (fgets(line, sizeof(line), fp)) {
		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPEROPTS" */
		if (sscanf(line, "%d %*d %*s %*s %4095s", &mid, mnt) != 2 || mid != id)
			continue;
		sep = strstr(line, " - ");
		/* The container's root mount itself, an overlay: its upper layer holds the file. */
		if (strcmp(mnt, "/") || !sep || strncmp(sep + 3, "overlay ", 8))
			break;
		opt = strstr(sep, "upperdir=");
		if (!opt || (opt[-1] != ' ' && opt[-1] != ','))
			break;
		opt += strlen("upperdir=");
		opt[strcspn(opt, ",\n")] = '\0';
		/* An escaped name (\040 for a space) or a relative one: not taken. */
		if (opt[0] != '/' || strchr(opt, '\\') || strlen(opt) >= size)
			break;
		snprintf(upper, size, "%s", opt);
		ret = 0;
		break;
	}
	fclose(fp);
	/* Read from that very process: not from one that reused its pid. */
	if (!ret && procfs_starttime(pid) != start)
		ret = -ESRCH;
	return ret;
}

int stressor_upper_open(const char *upper, const char *rel, int *dirfd)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV,
	};
	int upfd, fd, ret = 0;

	upfd = open(upper, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (upfd < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, upfd, rel[0] ? rel : ".", &how, sizeof(how));
	if (fd < 0)
		ret = -errno;
	else
		*dirfd = fd;
	close(upfd);
	return ret;
}

int stressor_container_dir(struct fault *f, const char *path, struct stressor_root *r, char *err,
			   size_t size)
{
	const struct fault_spec *spec = f->spec;
	const char *slash = strrchr(path, '/');
	struct ctr_info *c = NULL;
	char dir[4096];
	int ret;

	r->dirfd = -1;
	if (exp_fault_target_kind(spec->type) != FAULT_TARGET_STRESS ||
	    !spec->target.stress.container)
		return 0;
	if (!slash || !slash[1] || !strcmp(slash + 1, ".") || !strcmp(slash + 1, "..")) {
		snprintf(err, size, "params.path: '%s' does not name a file", path);
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	r->base = slash + 1;
	ret = resolve_guarded(f, &c, err, size);
	if (ret)
		return ret;
	r->pid = c[0].main_pid;
	r->start = c[0].main_start;
	snprintf(r->ctr.id, sizeof(r->ctr.id), "%s", c[0].id);
	snprintf(r->ctr.desc, sizeof(r->ctr.desc), "container %s (%.12s)",
		 c[0].name[0] ? c[0].name : c[0].id, c[0].id);
	r->ctr.pid = c[0].main_pid;
	r->ctr.starttime = c[0].main_start;
	r->ctr.netns = c[0].netns;
	ret = stressor_root_dir(r->pid, r->start, dir, &r->dirfd);
	if (ret == -ESRCH) {
		snprintf(err, size, "target.container: %.12s: its main process (pid %d) is gone",
			 c[0].id, (int)r->pid);
	} else if (ret) {
		snprintf(err, size, "params.path: %s inside container %.12s: %s%s", dir, c[0].id,
			 strerror(-ret),
			 ret == -EXDEV || ret == -ELOOP ? " (a link that leaves the container)"
							: "");
		/* A path the container does not have is the fault's mistake, not the agent's. */
		if (ret == -ENOENT || ret == -ENOTDIR || ret == -EXDEV || ret == -ELOOP)
			ret = -EINVAL;
	} else {
		log_info("fault %s: %s resolved inside container %.12s (main pid %d)", f->id, dir,
			 c[0].id, (int)r->pid);
	}
	free(c);
	return ret;
}
