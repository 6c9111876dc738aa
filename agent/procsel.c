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

#include "exp.h"
#include "pick.h"
#include "procsel.h"

#define PF_KTHREAD 0x00200000

struct proc_stat {
	char comm[16];
	char state;
	pid_t ppid;
	pid_t sid;
	unsigned long flags;
	unsigned long long starttime;
};

static int read_file(const char *path, char *buf, size_t size, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (len)
		*len = n;
	return 0;
}

static int read_stat(pid_t pid, struct proc_stat *st)
{
	char path[64], buf[1024], *open_paren, *close_paren, *p;
	int field = 3;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, buf, sizeof(buf), NULL))
		return -ESRCH;
	/* comm may contain spaces and parentheses: it runs to the last ')'. */
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -EIO;
	n = close_paren - open_paren - 1;
	if (n >= sizeof(st->comm))
		n = sizeof(st->comm) - 1;
	memcpy(st->comm, open_paren + 1, n);
	st->comm[n] = '\0';
	p = close_paren + 2;
	st->state = *p;
	/* strtok_r: process.pause selects on a worker thread while the loop may select too. */
	for (char *save, *tok = strtok_r(p, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save), field++) {
		if (field == 4)
			st->ppid = atoi(tok);
		else if (field == 6)
			st->sid = atoi(tok);
		else if (field == 9)
			st->flags = strtoul(tok, NULL, 10);
		else if (field == 22) {
			st->starttime = strtoull(tok, NULL, 10);
			return 0;
		}
	}
	return -EIO;
}

unsigned long long procsel_starttime(pid_t pid)
{
	struct proc_stat st;

	return read_stat(pid, &st) ? 0 : st.starttime;
}

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
	if (procsel_starttime(pid) != starttime) {
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
	if (read_file(path, buf, sizeof(buf), NULL))
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
	if (read_file(path, buf, sizeof(buf), NULL))
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
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (read_file(path, buf, sizeof(buf), &len) || !len)
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

void procsel_guard_init(struct procsel_guard *g, pid_t peer_pid, char *const *names, size_t n_names)
{
	struct proc_stat st;

	memset(g, 0, sizeof(*g));
	g->peer_pid = peer_pid;
	g->names = names;
	g->n_names = n_names;
	/*
	 * The controller's session. A session whose leader lives outside our pid namespace
	 * reads as sid 0 (a sandbox, a container runtime, CI): then any process with sid 0 may
	 * be in it, so all of them are protected rather than none.
	 */
	if (peer_pid > 0 && !read_stat(peer_pid, &st)) {
		g->peer_sid = st.sid;
		g->peer_sid_known = true;
	}
}

/* Why pid may never be selected, or NULL. */
static const char *protected_why(pid_t pid, const struct proc_stat *st,
				 const struct procsel_guard *g)
{
	/* OpenSSH 9.8 and later run each connection as sshd-session (and sshd-auth). */
	static const char *const ssh[] = {"sshd", "sshd-session", "sshd-auth"};

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
	return NULL;
}

uint64_t procsel_seed(const struct proc_target *t)
{
	uint64_t seed = t->seed;

	if (!seed) {
		if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
			seed = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
		/* Recorded seeds are JSON numbers: keep them exact in every JSON reader (2^53). */
		seed &= (1ULL << 53) - 1;
		if (!seed)
			seed = 1;
	}
	return seed;
}

int procsel_select(const struct proc_target *t, const struct procsel_guard *g, uint64_t seed,
		   struct proc_match **out, size_t *n_out, size_t *n_matched, char *err,
		   size_t err_size)
{
	struct proc_match *m = NULL;
	size_t n = 0, cap = 0, want, *idx = NULL;
	struct proc_stat st;
	regex_t re;
	int have_re = 0, ret = 0;
	uid_t uid = 0;
	struct dirent *de;
	DIR *d;

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
		if (read_stat(pid, &st))
			continue;
		/* Protected: never selected, whatever the selector says. */
		if (protected_why(pid, &st, g))
			continue;
		/* A zombie has already exited: a signal does nothing to it. */
		if (st.state == 'Z' || st.state == 'X')
			continue;
		if (t->pid && (uint32_t)pid != t->pid)
			continue;
		if (t->name && strcmp(st.comm, t->name))
			continue;
		if (t->user) {
			uid_t u;

			if (real_uid(pid, &u) || u != uid)
				continue;
		}
		if (t->exe && !exe_matches(pid, t->exe))
			continue;
		if (t->cgroup && !cgroup_matches(pid, t->cgroup))
			continue;
		if (have_re && !cmdline_matches(pid, &re))
			continue;
		if (n == cap) {
			struct proc_match *p = realloc(m, (cap = cap ? cap * 2 : 16) * sizeof(*m));

			if (!p) {
				ret = -ENOMEM;
				closedir(d);
				goto out;
			}
			m = p;
		}
		m[n].pid = pid;
		m[n].starttime = st.starttime;
		memcpy(m[n].comm, st.comm, sizeof(st.comm));
		n++;
	}
	closedir(d);
	if (!n) {
		snprintf(err, err_size, "%s",
			 "the process selector matches no process on this host (protected "
			 "processes such as pid 1, kernel threads, sshd, the agent and its "
			 "controller's session are never selected)");
		ret = -ESRCH;
		goto out;
	}
	/* Sort first so that the same seed gives the same choice whatever /proc's order. */
	qsort(m, n, sizeof(*m), by_pid);
	want = pick_how_many(n, t->count, t->percent_ppm, t->all);
	if (want < n) {
		idx = malloc(n * sizeof(*idx));
		if (!idx) {
			ret = -ENOMEM;
			goto out;
		}
		pick_choose(n, want, seed, idx);
		/* idx is ascending, so compacting in place never overwrites a pending entry. */
		for (size_t i = 0; i < want; i++)
			m[i] = m[idx[i]];
	}
	*out = m;
	*n_out = want;
	*n_matched = n;
	m = NULL;
out:
	if (have_re)
		regfree(&re);
	free(idx);
	free(m);
	return ret;
}

int procsel_cgroup_protected(const char *cgroup, const struct procsel_guard *g, char *err,
			     size_t err_size)
{
	struct proc_stat st;
	struct dirent *de;
	char cg[4096];
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

		if (*end || pid <= 0 || read_stat(pid, &st))
			continue;
		/* Kernel threads are not frozen by the cgroup freezer. */
		if (st.flags & PF_KTHREAD)
			continue;
		why = protected_why(pid, &st, g);
		if (!why || read_cgroup(pid, cg, sizeof(cg)) || !cgroup_within(cg, cgroup))
			continue;
		snprintf(err, err_size,
			 "target.cgroup: %s holds pid %d (%s), which is protected (%s): not frozen",
			 cgroup, (int)pid, st.comm, why);
		ret = -EPERM;
		break;
	}
	closedir(d);
	return ret;
}
