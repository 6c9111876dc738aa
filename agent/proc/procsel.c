/*
 * Process selection. Signals go through pidfds opened after the start time was read and
 * checked again after the open, so a pid recycled between selection and signal is never hit.
 */
#include <ctype.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "container.h"
#include "exp.h"
#include "pick.h"
#include "policy.h"
#include "procfs.h"
#include "procsel.h"

#define PF_KTHREAD 0x00200000

int procsel_probe(char *why, size_t size)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0), err;

	if (fd < 0) {
		err = -errno;
		snprintf(why, size, "pidfd_open(2) failed: %s%s", strerror(-err),
			 err == -ENOSYS
				 ? " (needs Linux 5.3: without pidfds a reused pid could be hit)"
				 : "");
		return err == -ENOSYS ? -EOPNOTSUPP : err;
	}
	close(fd);
	return 0;
}

int procsel_pidfd(pid_t pid, unsigned long long starttime)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	/* Anything but "no such process" (ENOSYS, EMFILE, ...) is a failure, not a gone target. */
	if (fd < 0)
		return -errno;
	/* The pidfd pins the process; if the start time still matches, it is the same one. */
	if (procfs_starttime(pid) != starttime) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

int procsel_signal(pid_t pid, unsigned long long starttime, int sig)
{
	int fd = procsel_pidfd(pid, starttime), err = 0;

	if (fd < 0)
		return fd;
	if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0))
		err = -errno;
	close(fd);
	return err;
}

static int uid_of(const char *user, uid_t *uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096], *end;
	unsigned long v;

	if (isdigit((unsigned char)user[0])) {
		errno = 0;
		v = strtoul(user, &end, 10);
		if (!errno && !*end) {
			*uid = (uid_t)v;
			return 0;
		}
	}
	if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) || !res)
		return -ENOENT;
	*uid = pw.pw_uid;
	return 0;
}

static int real_uid(pid_t pid, uid_t *uid)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (procfs_read_file(path, buf, sizeof(buf), NULL))
		return -ESRCH;
	p = strstr(buf, "\nUid:");
	if (!p)
		return -EIO;
	*uid = (uid_t)strtoul(p + 5, NULL, 10);
	return 0;
}

/* The process's cgroup v2 path (the "0::" line of /proc/PID/cgroup). */
static int read_cgroup(pid_t pid, char *out, size_t size)
{
	char path[64], buf[4096], *line, *save = NULL;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (procfs_read_file(path, buf, sizeof(buf), NULL))
		return -ESRCH;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::", 3))
			continue;
		if ((size_t)snprintf(out, size, "%s", line + 3) >= size)
			return -ENAMETOOLONG;
		return 0;
	}
	return -ENOENT;
}

/* The cgroup itself or anything below it (a unit's or a container's children). */
static bool cgroup_within(const char *cg, const char *want)
{
	size_t wl = strlen(want);

	/* "/a/" names the same cgroup as "/a". */
	while (wl > 1 && want[wl - 1] == '/')
		wl--;
	if (wl == 1 && want[0] == '/')
		return true;
	return !strncmp(cg, want, wl) && (cg[wl] == '\0' || cg[wl] == '/');
}

static int cgroup_matches(pid_t pid, const char *want)
{
	char cg[4096];

	return !read_cgroup(pid, cg, sizeof(cg)) && cgroup_within(cg, want);
}

static int cmdline_matches(pid_t pid, const regex_t *re)
{
	char path[64], buf[8192];
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (procfs_read_file(path, buf, sizeof(buf), &len) || !len)
		return 0;
	for (size_t i = 0; i + 1 < len; i++)
		if (!buf[i])
			buf[i] = ' ';
	return !regexec(re, buf, 0, NULL, 0);
}

static int exe_matches(pid_t pid, const char *want)
{
	char path[64], target[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return 0;
	target[n] = '\0';
	return !strcmp(target, want);
}

static int by_pid(const void *a, const void *b)
{
	const struct proc_match *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

static bool protected_name(const char *comm, char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(comm, names[i]))
			return true;
	return false;
}

/*
 * Processes no fault may hit whatever the target says, by the program they run: stopping or
 * killing one takes the host down, corrupts its package database, or kills every container
 * at once. A name ending in '*' is a prefix.
 */
static const struct {
	const char *name;
	const char *why;
	/*
	 * Its descendants are protected too: a package manager runs its work in children with
	 * other names (apt's /usr/lib/apt/methods/http, dpkg's maintainer scripts, rpm's
	 * scriptlets), and killing one of those leaves a transaction half done all the same.
	 */
	bool descendants;
} builtin_protected[] = {
	{"faultlined", "a faultline agent", false},
	{"apt", "a package manager", true},
	{"apt-get", "a package manager", true},
	{"dpkg", "a package manager", true},
	{"rpm", "a package manager", true},
	{"dnf", "a package manager", true},
	{"yum", "a package manager", true},
	{"systemd", "init or a system daemon", false},
	{"systemd-journald", "init or a system daemon", false},
	{"systemd-logind", "init or a system daemon", false},
	{"dbus-daemon", "init or a system daemon", false},
	{"dockerd", "a container runtime", false},
	{"containerd", "a container runtime", false},
	{"containerd-shim*", "a container runtime", false},
	{"runc", "a container runtime", false},
	{"crun", "a container runtime", false},
	{"conmon", "a container runtime", false},
	{"crio", "a container runtime", false},
	{"podman", "a container runtime", false},
	{"kubelet", "a container runtime", false},
};

/*
 * Whether name (a comm, cut to 15 bytes by the kernel, or a file name) is the program
 * pattern names. A comm is compared with the pattern cut the same way, so that
 * "systemd-journal" is systemd-journald.
 */
static bool program_is(const char *name, const char *pattern, bool is_comm)
{
	size_t pl = strlen(pattern), nl = strlen(name);

	if (pattern[pl - 1] == '*')
		return !strncmp(name, pattern, pl - 1);
	if (is_comm && pl > 15)
		return nl == 15 && !strncmp(name, pattern, 15);
	return !strcmp(name, pattern);
}

static const char *builtin_why(const char *name, bool is_comm)
{
	for (size_t i = 0; i < sizeof(builtin_protected) / sizeof(builtin_protected[0]); i++)
		if (program_is(name, builtin_protected[i].name, is_comm))
			return builtin_protected[i].why;
	return NULL;
}

/* Whether name is a program whose descendants are protected (a package manager). */
static bool builtin_guards_descendants(const char *name, bool is_comm)
{
	for (size_t i = 0; i < sizeof(builtin_protected) / sizeof(builtin_protected[0]); i++)
		if (builtin_protected[i].descendants &&
		    program_is(name, builtin_protected[i].name, is_comm))
			return true;
	return false;
}

/* The executable of pid, without a " (deleted)" suffix; -errno when it cannot be read. */
static int read_exe(pid_t pid, char *out, size_t size)
{
	static const char deleted[] = " (deleted)";
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, out, size - 1);
	if (n < 0)
		return -errno;
	out[n] = '\0';
	if ((size_t)n > sizeof(deleted) - 1 && !strcmp(out + n - (sizeof(deleted) - 1), deleted))
		out[n - (sizeof(deleted) - 1)] = '\0';
	return 0;
}

/* Why the program pid runs is protected (by comm, then by executable), or NULL. */
static const char *program_protected(pid_t pid, const char *comm, const struct procsel_guard *g)
{
	const char *why = builtin_why(comm, true), *base;
	char exe[4096];

	if (why)
		return why;
	/* A renamed copy keeps its executable: comm alone is easy to change (prctl). */
	if (read_exe(pid, exe, sizeof(exe)))
		return NULL;
	if (g->self_exe[0] && !strcmp(exe, g->self_exe))
		return "a faultline agent";
	base = strrchr(exe, '/');
	return builtin_why(base ? base + 1 : exe, false);
}

/*
 * Whether an ancestor of the process (whose parent is ppid) is a program that protects its
 * descendants, by comm or by executable. The walk stops at pid 1 (or a parent outside our pid
 * namespace, which reads as 0) and after ANCESTRY_MAX steps: process trees are shallow, and a
 * cycle cannot happen but a bound costs nothing.
 */
#define ANCESTRY_MAX 64
static bool ancestor_guards_descendants(pid_t ppid)
{
	struct procfs_stat st;
	char exe[4096];
	const char *base;

	for (int i = 0; i < ANCESTRY_MAX && ppid > 1; i++) {
		if (procfs_stat(ppid, &st))
			return false;
		if (builtin_guards_descendants(st.comm, true))
			return true;
		if (!read_exe(ppid, exe, sizeof(exe))) {
			base = strrchr(exe, '/');
			if (builtin_guards_descendants(base ? base + 1 : exe, false))
				return true;
		}
		ppid = st.ppid;
	}
	return false;
}

void procsel_guard_init(struct procsel_guard *g, pid_t peer_pid, const struct policy *p)
{
	struct procfs_stat st;

	memset(g, 0, sizeof(*g));
	g->peer_pid = peer_pid;
	if (p) {
		g->names = p->protected_processes;
		g->n_names = p->n_protected_processes;
		g->max_procs = p->max_processes_per_fault;
	}
	if (read_exe(getpid(), g->self_exe, sizeof(g->self_exe)))
		g->self_exe[0] = '\0';
	/*
	 * The controller's session. A session whose leader lives outside our pid namespace
	 * reads as sid 0 (a sandbox, a container runtime, CI): then any process with sid 0 may
	 * be in it, so all of them are protected rather than none.
	 */
	if (peer_pid > 0 && !procfs_stat(peer_pid, &st)) {
		g->peer_sid = st.sid;
		g->peer_sid_known = true;
	}
}

/* Why pid may never be selected, or NULL. */
static const char *protected_why(pid_t pid, const struct procfs_stat *st,
				 const struct procsel_guard *g)
{
	/* OpenSSH 9.8 and later run each connection as sshd-session (and sshd-auth). */
	static const char *const ssh[] = {"sshd", "sshd-session", "sshd-auth"};
	const char *why;

	if (pid == 1)
		return "pid 1";
	if (st->flags & PF_KTHREAD)
		return "a kernel thread";
	if (pid == getpid())
		return "the agent";
	if (pid == g->peer_pid)
		return "the controller";
	if (g->peer_sid_known && st->sid == g->peer_sid)
		return "in the controller's session";
	if (protected_name(st->comm, (char *const *)ssh, sizeof(ssh) / sizeof(ssh[0])))
		return "sshd";
	if (protected_name(st->comm, g->names, g->n_names))
		return "protected by the policy";
	why = program_protected(pid, st->comm, g);
	if (why)
		return why;
	if (ancestor_guards_descendants(st->ppid))
		return "run by a package manager (a descendant of one)";
	return NULL;
}

uint64_t procsel_random_seed(void)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	/* Recorded seeds are JSON numbers: keep them exact in every JSON reader (2^53). */
	seed &= (1ULL << 53) - 1;
	return seed ? seed : 1;
}

uint64_t procsel_seed(const struct proc_target *t)
{
	return t->seed ? t->seed : procsel_random_seed();
}

/* What a scan of /proc found: the processes a fault may hit, and the protected matches. */
struct scan {
	struct proc_match *m, *prot;
	size_t n, n_prot, cap, cap_prot;
	struct ctr_info *ctrs; /* the containers target.container names, resolved */
	size_t n_ctrs;
	struct ctr_info *guarded; /* containers whose processes are never picked (ctr_guarded) */
	size_t n_guarded;
};

static void scan_free(struct scan *sc)
{
	free(sc->m);
	free(sc->prot);
	free(sc->ctrs);
	free(sc->guarded);
	memset(sc, 0, sizeof(*sc));
}

static int scan_add(struct proc_match **arr, size_t *n, size_t *cap, pid_t pid,
		    const struct procfs_stat *st, const char *why)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct proc_match *p = realloc(*arr, c * sizeof(**arr));

		if (!p)
			return -ENOMEM;
		*arr = p;
		*cap = c;
	}
	(*arr)[*n].pid = pid;
	(*arr)[*n].starttime = st->starttime;
	memcpy((*arr)[*n].comm, st->comm, sizeof(st->comm));
	(*arr)[*n].why = why;
	(*n)++;
	return 0;
}

/* Whether pid is in one of the containers of sc (resolved from target.container). */
static bool in_containers(pid_t pid, const struct scan *sc)
{
	char id[CTR_ID_LEN + 1];

	if (ctr_pid_id(pid, id))
		return false;
	for (size_t i = 0; i < sc->n_ctrs; i++)
		if (!strcmp(sc->ctrs[i].id, id))
			return true;
	return false;
}

/* Why pid is protected by the container it is in (sc->guarded), or NULL. */
static const char *container_why(pid_t pid, const struct scan *sc)
{
	char id[CTR_ID_LEN + 1];

	if (!sc->n_guarded || ctr_pid_id(pid, id))
		return NULL;
	for (size_t i = 0; i < sc->n_guarded; i++) {
		if (strcmp(sc->guarded[i].id, id))
			continue;
		if (sc->guarded[i].self)
			return "in the agent's own container";
		return sc->guarded[i].protected_by[0]
			       ? "in a container the policy protects (protected_containers)"
			       : "in a container no engine names (protected_containers unchecked)";
	}
	return NULL;
}

/*
 * Add pid to sc when it is alive and matches every criterion of t (re: t->cmdline compiled,
 * or NULL; uid: t->user's): in sc->m, or in sc->prot with why when it is protected. 0 or
 * -ENOMEM.
 */
static int consider(pid_t pid, const struct proc_target *t, const regex_t *re, uid_t uid,
		    const struct procsel_guard *g, struct scan *sc)
{
	struct procfs_stat st;
	const char *why;

	if (procfs_stat(pid, &st))
		return 0;
	/* A zombie has already exited: a signal does nothing to it. */
	if (st.state == 'Z' || st.state == 'X')
		return 0;
	if (t->pid && (uint32_t)pid != t->pid)
		return 0;
	if (t->name && strcmp(st.comm, t->name))
		return 0;
	if (t->user) {
		uid_t u;

		if (real_uid(pid, &u) || u != uid)
			return 0;
	}
	if (t->exe && !exe_matches(pid, t->exe))
		return 0;
	if (t->cgroup && !cgroup_matches(pid, t->cgroup))
		return 0;
	if (re && !cmdline_matches(pid, re))
		return 0;
	if (t->container && !in_containers(pid, sc))
		return 0;
	/* Protected: never selected, whatever the selector says; kept to say why. */
	why = protected_why(pid, &st, g);
	if (!why)
		why = container_why(pid, sc);
	if (why)
		return scan_add(&sc->prot, &sc->n_prot, &sc->cap_prot, pid, &st, why);
	return scan_add(&sc->m, &sc->n, &sc->cap, pid, &st, NULL);
}

/*
 * Every live process matching each criterion of t, sorted by pid: those a fault may hit in
 * sc->m, the protected ones (with why) in sc->prot. 0, -EINVAL (err says why), -errno; the
 * container's refusals of ctr_resolve() (-ESRCH, -EPERM, -EOPNOTSUPP).
 */
static int scan(const struct proc_target *t, const struct procsel_guard *g, struct scan *sc,
		char *err, size_t err_size)
{
	regex_t re;
	int have_re = 0, ret = 0;
	uid_t uid = 0;
	struct dirent *de;
	DIR *d;

	memset(sc, 0, sizeof(*sc));
	if (t->user && uid_of(t->user, &uid)) {
		snprintf(err, err_size, "target.user: no user '%s' on this host", t->user);
		return -EINVAL;
	}
	if (t->cmdline) {
		if (regcomp(&re, t->cmdline, REG_EXTENDED | REG_NOSUB)) {
			snprintf(err, err_size, "target.cmdline: invalid regular expression");
			return -EINVAL;
		}
		have_re = 1;
		/* The loader refuses these too; the agent does not rely on its controller. */
		if (!regexec(&re, "", 0, NULL, 0)) {
			snprintf(err, err_size,
				 "target.cmdline: the regular expression matches the empty string, "
				 "so it matches every process");
			ret = -EINVAL;
			goto out;
		}
	}
	/* The container is resolved once per scan: a restarted one is found with its new pids. */
	if (t->container) {
		ret = ctr_resolve(t->container, &sc->ctrs, &sc->n_ctrs, err, err_size);
		if (ret)
			goto out;
	}
	/* Processes of the agent's own or a protected container are never picked. */
	ret = ctr_guarded(&sc->guarded, &sc->n_guarded);
	if (ret) {
		snprintf(err, err_size, "finding the protected containers: %s", strerror(-ret));
		goto out;
	}
	/* A pid names one process at most: no need to read every other one in /proc. */
	if (t->pid) {
		ret = consider((pid_t)t->pid, t, have_re ? &re : NULL, uid, g, sc);
		goto out;
	}
	d = opendir("/proc");
	if (!d) {
		ret = -errno;
		snprintf(err, err_size, "cannot read /proc: %s", strerror(-ret));
		goto out;
	}
	while ((de = readdir(d))) {
		pid_t pid;
		char *end;

		pid = (pid_t)strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		ret = consider(pid, t, have_re ? &re : NULL, uid, g, sc);
		if (ret) {
			closedir(d);
			goto out;
		}
	}
	closedir(d);
	/* Sorted, so that the same seed gives the same choice whatever /proc's order. */
	if (sc->n)
		qsort(sc->m, sc->n, sizeof(*sc->m), by_pid);
	if (sc->n_prot)
		qsort(sc->prot, sc->n_prot, sizeof(*sc->prot), by_pid);
out:
	if (have_re)
		regfree(&re);
	if (ret)
		scan_free(sc);
	return ret;
}

/*
 * Why a scan gives nothing or too much to hit: fills err and returns -ESRCH or
 * -E2BIG; 0 when want processes may be hit.
 */
static int scan_verdict(const struct scan *sc, size_t want, const struct procsel_guard *g,
			char *err, size_t err_size)
{
	if (!sc->n && sc->n_prot) {
		snprintf(err, err_size,
			 "the process selector matches no process that may be hit: %zu match%s, "
			 "all protected, e.g. pid %d (%s): %s; nothing was signalled",
			 sc->n_prot, sc->n_prot == 1 ? "" : "es", (int)sc->prot[0].pid,
			 sc->prot[0].comm, sc->prot[0].why);
		return -ESRCH;
	}
	if (!sc->n) {
		snprintf(err, err_size, "%s",
			 "the process selector matches no process on this host (protected "
			 "processes such as pid 1, kernel threads, sshd, the agent and its "
			 "controller's session are never selected)");
		return -ESRCH;
	}
	if (g->max_procs && want > g->max_procs) {
		snprintf(
			err, err_size,
			"target: would hit %zu of %zu matching processes, more than the policy's "
			"max_processes_per_fault (%u); nothing was signalled (narrow the selector, "
			"hit fewer with count or percent, or raise the cap in the policy file)",
			want, sc->n, g->max_procs);
		return -E2BIG;
	}
	return 0;
}

int procsel_select(const struct proc_target *t, const struct procsel_guard *g, uint64_t seed,
		   struct proc_match **out, size_t *n_out, size_t *n_matched, char *err,
		   size_t err_size)
{
	return procsel_select_ctrs(t, g, seed, out, n_out, n_matched, NULL, NULL, err, err_size);
}

int procsel_select_ctrs(const struct proc_target *t, const struct procsel_guard *g, uint64_t seed,
			struct proc_match **out, size_t *n_out, size_t *n_matched,
			struct ctr_info **ctrs, size_t *n_ctrs, char *err, size_t err_size)
{
	struct scan sc;
	size_t want, *idx = NULL;
	int ret;

	ret = scan(t, g, &sc, err, err_size);
	if (ret)
		return ret;
	want = pick_how_many(sc.n, t->count, t->percent_ppm, t->all);
	/* The cap is checked here, before the caller can signal anything. */
	ret = scan_verdict(&sc, want, g, err, err_size);
	if (ret)
		goto out;
	if (want < sc.n) {
		idx = malloc(sc.n * sizeof(*idx));
		if (!idx) {
			ret = -ENOMEM;
			goto out;
		}
		pick_choose(sc.n, want, seed, idx);
		/* idx is ascending, so compacting in place never overwrites a pending entry. */
		for (size_t i = 0; i < want; i++)
			sc.m[i] = sc.m[idx[i]];
	}
	*out = sc.m;
	*n_out = want;
	*n_matched = sc.n;
	sc.m = NULL;
	if (ctrs) {
		*ctrs = sc.ctrs;
		*n_ctrs = sc.n_ctrs;
		sc.ctrs = NULL;
	}
out:
	free(idx);
	scan_free(&sc);
	return ret;
}

/* Processes listed in a resolve answer; the counts are always whole. */
#define RESOLVE_LIST_MAX 256

/* {pid, comm, user, cgroup} of a match, as a resolve answer lists it. */
static json_t *match_json(const struct proc_match *m, bool chosen_known, bool chosen)
{
	struct passwd pw, *res = NULL;
	char buf[4096], cg[4096];
	json_t *o;
	uid_t uid;

	o = json_pack("{s:i, s:s}", "pid", (int)m->pid, "comm", m->comm);
	if (!o)
		return NULL;
	if (!real_uid(m->pid, &uid)) {
		if (!getpwuid_r(uid, &pw, buf, sizeof(buf), &res) && res)
			json_object_set_new(o, "user", json_string(res->pw_name));
		else
			json_object_set_new(o, "user", json_sprintf("%u", (unsigned)uid));
		json_object_set_new(o, "uid", json_integer((json_int_t)uid));
	}
	if (!read_cgroup(m->pid, cg, sizeof(cg)))
		json_object_set_new(o, "cgroup", json_string(cg));
	if (m->why)
		json_object_set_new(o, "why", json_string(m->why));
	if (chosen_known)
		json_object_set_new(o, "chosen", json_boolean(chosen));
	return o;
}

int procsel_resolve(const struct proc_target *t, const struct procsel_guard *g, json_t **out,
		    char *err, size_t err_size)
{
	json_t *o = NULL, *procs, *prot;
	size_t want, *idx = NULL;
	bool *chosen = NULL;
	struct scan sc;
	int ret;

	ret = scan(t, g, &sc, err, err_size);
	if (ret)
		return ret;
	want = pick_how_many(sc.n, t->count, t->percent_ppm, t->all);
	ret = -ENOMEM;
	/* Which ones a given seed chooses; without a seed the choice is made at apply. */
	if (t->seed && want < sc.n) {
		idx = malloc(sc.n * sizeof(*idx));
		chosen = calloc(sc.n, sizeof(*chosen));
		if (!idx || !chosen)
			goto out;
		pick_choose(sc.n, want, t->seed, idx);
		for (size_t i = 0; i < want; i++)
			chosen[idx[i]] = true;
	}
	procs = json_array();
	prot = json_array();
	o = json_pack("{s:I, s:I, s:I, s:o, s:o}", "matched", (json_int_t)sc.n, "would_hit",
		      (json_int_t)want, "protected_matches", (json_int_t)sc.n_prot, "processes",
		      procs, "protected", prot);
	if (!o)
		goto out;
	if (want < sc.n)
		json_object_set_new(
			o, "choice",
			json_sprintf(t->seed ? "%zu of %zu, chosen with the given seed"
					     : "%zu of %zu, chosen at random when applied",
				     want, sc.n));
	for (size_t i = 0; i < sc.n && i < RESOLVE_LIST_MAX; i++)
		json_array_append_new(
			procs, match_json(&sc.m[i], chosen != NULL, chosen ? chosen[i] : true));
	for (size_t i = 0; i < sc.n_prot && i < RESOLVE_LIST_MAX; i++)
		json_array_append_new(prot, match_json(&sc.prot[i], false, false));
	if (sc.n > RESOLVE_LIST_MAX || sc.n_prot > RESOLVE_LIST_MAX)
		json_object_set_new(o, "truncated", json_integer(RESOLVE_LIST_MAX));
	/* The containers the target named, as GET /v1/containers lists them. */
	if (t->container) {
		json_t *ctrs = json_array();

		for (size_t i = 0; ctrs && i < sc.n_ctrs; i++)
			json_array_append_new(ctrs, ctr_info_json(&sc.ctrs[i]));
		json_object_set_new(o, "containers", ctrs);
	}
	/* What was found is the answer whatever the verdict: it shows why. */
	*out = o;
	o = NULL;
	ret = scan_verdict(&sc, want, g, err, err_size);
out:
	json_decref(o);
	free(idx);
	free(chosen);
	scan_free(&sc);
	return ret;
}

int procsel_container_guard(const struct container_ref *ref, const struct procsel_guard *g,
			    const char *verb, char *err, size_t err_size)
{
	struct proc_target whole = {.container = (struct container_ref *)ref, .all = true};
	char id[CTR_ID_LEN + 1];
	struct scan sc;
	int ret = scan(&whole, g, &sc, err, err_size);

	if (ret)
		return ret;
	if (sc.n_prot) {
		if (ctr_pid_id(sc.prot[0].pid, id))
			snprintf(id, sizeof(id), "?");
		snprintf(err, err_size,
			 "target.container: %.12s holds pid %d (%s), which is protected (%s): "
			 "not %s",
			 id, (int)sc.prot[0].pid, sc.prot[0].comm, sc.prot[0].why, verb);
		ret = -EPERM;
	} else {
		ret = scan_verdict(&sc, sc.n, g, err, err_size);
	}
	scan_free(&sc);
	return ret;
}

int procsel_cgroup_protected(const char *cgroup, const struct procsel_guard *g, char *err,
			     size_t err_size)
{
	struct procfs_stat st;
	struct dirent *de;
	char cg[4096];
	size_t inside = 0;
	int ret = 0;
	DIR *d = opendir("/proc");

	if (!d) {
		ret = -errno;
		snprintf(err, err_size, "cannot read /proc: %s", strerror(-ret));
		return ret;
	}
	while ((de = readdir(d))) {
		const char *why;
		char *end;
		pid_t pid = (pid_t)strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || procfs_stat(pid, &st))
			continue;
		/* Kernel threads are not frozen by the cgroup freezer. */
		if (st.flags & PF_KTHREAD)
			continue;
		if (read_cgroup(pid, cg, sizeof(cg)) || !cgroup_within(cg, cgroup))
			continue;
		inside++;
		why = protected_why(pid, &st, g);
		if (!why)
			continue;
		snprintf(err, err_size,
			 "target.cgroup: %s holds pid %d (%s), which is protected (%s): not frozen",
			 cgroup, (int)pid, st.comm, why);
		ret = -EPERM;
		break;
	}
	closedir(d);
	/* The freezer stops every process of the cgroup: all of them count against the cap. */
	if (!ret && g->max_procs && inside > g->max_procs) {
		snprintf(err, err_size,
			 "target.cgroup: %s holds %zu processes, more than the policy's "
			 "max_processes_per_fault (%u): not frozen",
			 cgroup, inside, g->max_procs);
		ret = -E2BIG;
	}
	return ret;
}
