/*
 * Stressor processes: a cgroup v2 per fault, workers spawned like posix_spawn does (a clone
 * sharing the agent's memory until it execs) that move themselves into it first, stripped
 * of every capability before they re-execute the agent binary in its worker mode, and
 * killed together with cgroup.kill. The journal learns the cgroup
 * before it exists, the pids once the workers run, and a file's identity before its name.
 * Watching the workers for deaths and describing them: stressor_watch.c; the fault's file:
 * stressor_file.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/sched.h>

#include "procfs.h"
#include "agent.h"
#include "cgroup.h"
#include "core.h"
#include "events.h"
#include "fault.h"
#include "log.h"
#include "stressor.h"

#define WORKER_FD_STATUS 3
#define WORKER_FD_DATA 4
/* How long stop and cleanup wait for killed workers to leave the cgroup. */
#define STOP_WAIT_MS 10000
/* How long apply waits for the next worker to report in (the VM's TCG is slow). */
#define START_WAIT_MS 20000
/* The stack a new worker runs on until it execs (child_main needs well under 4 KiB). */
#define CHILD_STACK_SIZE (64 * 1024)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = -errno;
	else if ((size_t)n != strlen(val))
		err = -EIO;
	close(fd);
	return err;
}

static int setup_err = -ENOENT;
/*
 * cgroup.procs of the stressors' group in a cgroup v1 cpu hierarchy (hybrid layouts), or -1.
 * The v2 cgroups of the faults carry no cpu controller there: without it the workers would
 * share the agent's scheduling group (its cgroup, or its session's autogroup), and 1,000
 * runnable workers at nice 0 kept the event loop at nice -10 waiting 25-120 ms for a CPU
 * at each wakeup (measured from its schedstat), seconds per request in all.
 */
static int cpu_procs_fd = -1;

/*
 * The workers of every stressor in one group of the v1 cpu hierarchy, a sibling of the
 * agent's: with the default cpu.shares (1024), as a whole they weigh as much as one service
 * or session, however many they are, and the agent's threads keep their share. Where the
 * cpu controller is on the v2 hierarchy, the stressors' parent there is such a group already
 * (when the root enables the controller for its children).
 */
static int setup_cpu_group(void)
{
	char root[256], path[300];
	int fd;

	if (cgroup_v1_root("cpu", root, sizeof(root)))
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/" STRESSOR_CGROUP_PARENT, root) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	strncat(path, "/cgroup.procs", sizeof(path) - strlen(path) - 1);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	cpu_procs_fd = fd;
	return 0;
}

static int parent_path(char *buf, size_t size)
{
	char root[256];
	int ret = cgroup_v2_root(root, sizeof(root));

	if (ret)
		return ret;
	if ((size_t)snprintf(buf, size, "%s/" STRESSOR_CGROUP_PARENT, root) >= size)
		return -ENAMETOOLONG;
	return 0;
}

int stressor_setup(void)
{
	char path[300];
	int ret = parent_path(path, sizeof(path));

	if (!ret && mkdir(path, 0755) && errno != EEXIST)
		ret = -errno;
	setup_err = ret;
	if (!ret && cpu_procs_fd < 0) {
		int err = setup_cpu_group();

		if (err)
			log_warn("stressor workers will share the agent's cpu scheduling group: "
				 "cannot create their cgroup in the v1 cpu hierarchy: %s",
				 strerror(-err));
	}
	return ret;
}

int stressor_probe(char *why, size_t size)
{
	char path[300];

	if (parent_path(path, sizeof(path))) {
		snprintf(why, size, "no cgroup v2 hierarchy is mounted (stressors run in a cgroup "
				    "v2 of their own)");
		return -EOPNOTSUPP;
	}
	if (setup_err) {
		snprintf(why, size, "the agent could not create %s at start: %s", path,
			 strerror(-setup_err));
		return -EOPNOTSUPP;
	}
	return 0;
}

/* The undo record: an object built up in f->undo and journaled at every step. */
int stressor_undo_set(struct fault *f, const char *key, json_t *val)
{
	if (!val)
		return -ENOMEM;
	if (!f->undo) {
		f->undo = json_object();
		if (!f->undo) {
			json_decref(val);
			return -ENOMEM;
		}
	}
	if (json_object_set_new(f->undo, key, val))
		return -ENOMEM;
	return fault_journal(f);
}

int stressor_new(struct fault *f, int max_workers, struct stressor **out, char *err,
		 size_t size)
{
	struct stressor *s = calloc(1, sizeof(*s));
	char parent[300];
	int ret;

	if (!s)
		return -ENOMEM;
	s->cgroup_fd = s->st_fd = s->file_fd = s->file_dirfd = -1;
	s->st = MAP_FAILED;
	s->stack = MAP_FAILED;
	ret = parent_path(parent, sizeof(parent));
	if (ret) {
		snprintf(err, size, "no cgroup v2 hierarchy: %s", strerror(-ret));
		goto fail;
	}
	snprintf(s->cgroup, sizeof(s->cgroup), "%s/" STRESSOR_CGROUP_PREFIX "%s", parent, f->id);
	s->cap = max_workers;
	s->pids = calloc(max_workers, sizeof(*s->pids));
	s->wstatus = calloc(max_workers, sizeof(*s->wstatus));
	if (!s->pids || !s->wstatus) {
		ret = -ENOMEM;
		goto fail;
	}
	/* The status pages: shared with the workers, read by describe. */
	s->st_size = (size_t)max_workers * sizeof(struct stressor_status);
	s->st_fd = memfd_create("faultline-stress", MFD_CLOEXEC);
	if (s->st_fd < 0) {
		ret = -errno;
		snprintf(err, size, "memfd_create: %s", strerror(-ret));
		goto fail;
	}
	if (ftruncate(s->st_fd, (off_t)s->st_size)) {
		ret = -errno;
		snprintf(err, size, "sizing the status pages: %s", strerror(-ret));
		goto fail;
	}
	s->st = mmap(NULL, s->st_size, PROT_READ | PROT_WRITE, MAP_SHARED, s->st_fd, 0);
	if (s->st == MAP_FAILED) {
		ret = -errno;
		snprintf(err, size, "mapping the status pages: %s", strerror(-ret));
		goto fail;
	}
	ret = stressor_undo_set(f, "cgroup", json_string(s->cgroup));
	if (ret) {
		snprintf(err, size, "journaling the cgroup: %s", strerror(-ret));
		goto fail;
	}
	if (mkdir(s->cgroup, 0755)) {
		ret = -errno;
		snprintf(err, size, "creating cgroup %s: %s", s->cgroup, strerror(-ret));
		/* An existing directory is not ours to remove. */
		if (ret == -EEXIST)
			s->cgroup[0] = '\0';
		goto fail;
	}
	s->cgroup_fd = open(s->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->cgroup_fd < 0) {
		ret = -errno;
		snprintf(err, size, "opening cgroup %s: %s", s->cgroup, strerror(-ret));
		rmdir(s->cgroup);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	stressor_free(s);
	return ret;
}

/*
 * The new child: only raw system calls from here to execve, because the agent is
 * multi-threaded (libuv), its locks may be held by other threads, and the child runs on the
 * agent's own memory (CLONE_VM) until it execs. A failure is written to the worker's status
 * page before exiting.
 */
static void child_fail(struct stressor_status *st, const char *what)
{
	int e = errno;
	size_t n = strlen(what);

	if (n >= sizeof(st->msg))
		n = sizeof(st->msg) - 1;
	memcpy(st->msg, what, n);
	st->msg[n] = '\0';
	st->err = e;
	__atomic_store_n(&st->state, STRESSOR_FAILED, __ATOMIC_RELEASE);
	_exit(126);
}

static __attribute__((noreturn)) void child_main(const struct stressor *s,
						 struct stressor_status *st,
						 const struct stressor_spawn *sp, char *const argv[],
						 pid_t parent, int procs_fd)
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	int fd, hs, hd = -1;
	sigset_t none;

	/*
	 * Born in the agent's own cgroup: into the fault's cgroup before anything else ("0" is
	 * the writer itself), so all it does and runs is accounted there.
	 */
	if (procs_fd >= 0 && write(procs_fd, "0", 1) != 1)
		child_fail(st, "moving into the fault's cgroup (cgroup.procs)");
	/* A container target: into the container's cgroups too, before any work is charged. */
	for (int i = 0; i < s->n_join; i++)
		if (write(s->join_fd[i], "0", 1) != 1)
			child_fail(st, "joining the container's cgroup (cgroup.procs)");

	/* Dies with the agent: a crash leaves no worker running, only the cgroup to remove. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
		child_fail(st, "prctl(PR_SET_PDEATHSIG)");
	if (getppid() != parent)
		_exit(125);
	if (sp->nofile) {
		struct rlimit rl = { .rlim_cur = sp->nofile, .rlim_max = sp->nofile };

		if (setrlimit(RLIMIT_NOFILE, &rl))
			child_fail(st, "raising RLIMIT_NOFILE");
	}
	if (sp->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(sp->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			child_fail(st, "pinning to the CPU");
	}
	/* Renumber the status page to fd 3 and the data file to fd 4; close all others. */
	hs = fcntl(s->st_fd, F_DUPFD, 10);
	if (hs < 0)
		child_fail(st, "dup of the status page");
	if (sp->data_fd >= 0) {
		hd = fcntl(sp->data_fd, F_DUPFD, 10);
		if (hd < 0)
			child_fail(st, "dup of the data file");
	}
	if (dup2(hs, WORKER_FD_STATUS) < 0 || (hd >= 0 && dup2(hd, WORKER_FD_DATA) < 0))
		child_fail(st, "dup2");
	if (syscall(SYS_close_range, hd >= 0 ? WORKER_FD_DATA + 1 : WORKER_FD_STATUS + 1, ~0U,
		    0))
		child_fail(st, "close_range");
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, 0) < 0)
		child_fail(st, "opening /dev/null");
	if (fd > WORKER_FD_DATA)
		close(fd);
	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd < 0 || write(fd, "1000", 4) != 4)
		child_fail(st, "setting oom_score_adj 1000");
	close(fd);
	/*
	 * The agent runs at --nice (below 0); the load it injects runs at the default, 0. The
	 * worker sets that itself once it runs (stressor_worker_main): until it has exec'd,
	 * the agent's spawning thread waits for it, and at 0 among hundreds of busy workers
	 * that wait took seconds per worker.
	 */
	/* No capabilities at all: bounding set (needs CAP_SETPCAP), ambient, then the rest. */
	for (int c = 0; c < 64; c++) {
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);

		if (r < 0)
			break;
		if (r == 1 && prctl(PR_CAPBSET_DROP, c, 0, 0, 0))
			child_fail(st, "dropping the capability bounding set");
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		child_fail(st, "clearing ambient capabilities");
	if (syscall(SYS_capset, &hdr, data))
		child_fail(st, "clearing capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		child_fail(st, "setting no_new_privs");
	/*
	 * Every signal is blocked (stressor_start): the agent's handlers must not run here, on
	 * its memory, so those are set back to the default before the mask is cleared; ignored
	 * signals stay ignored, as across a fork.
	 */
	for (int sig = 1; sig < _NSIG; sig++) {
		struct sigaction sa;

		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) ||
		    sa.sa_handler == SIG_IGN || sa.sa_handler == SIG_DFL)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(sig, &sa, NULL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve("/proc/self/exe", argv, envp);
	child_fail(st, "execve /proc/self/exe");
	_exit(126);
}

/* What a new child needs: it runs on the agent's memory (CLONE_VM), so pointers will do. */
struct child_args {
	const struct stressor *s;
	struct stressor_status *st;
	const struct stressor_spawn *sp;
	char *const *argv;
	pid_t parent;
	int procs_fd;
};

static int child_entry(void *arg)
{
	const struct child_args *c = arg;

	child_main(c->s, c->st, c->sp, c->argv, c->parent, c->procs_fd);
}

int stressor_start(struct stressor *s, struct fault *f, const struct stressor_spawn *sp,
		   char *err, size_t size)
{
	char idx[16], *argv[16];
	struct child_args ca;
	struct stressor_status *st;
	sigset_t all, old;
	size_t n = 0;
	int procs_fd, ret;
	pid_t pid;

	if (s->n >= s->cap)
		return -ENOSPC;
	if (s->stack == MAP_FAILED) {
		s->stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (s->stack == MAP_FAILED) {
			ret = -errno;
			snprintf(err, size, "mapping the spawning stack: %s", strerror(-ret));
			return ret;
		}
	}
	st = &s->st[s->n];
	memset(st, 0, sizeof(*st));
	snprintf(idx, sizeof(idx), "%d", s->n);
	argv[n++] = "faultlined";
	argv[n++] = STRESSOR_WORKER_ARG;
	argv[n++] = idx;
	for (size_t i = 0; sp->args[i] && n < sizeof(argv) / sizeof(argv[0]) - 1; i++)
		argv[n++] = (char *)sp->args[i];
	argv[n] = NULL;
	procs_fd = openat(s->cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (procs_fd < 0) {
		ret = -errno;
		snprintf(err, size, "opening %s/cgroup.procs: %s", s->cgroup, strerror(-ret));
		return ret;
	}
	if (!s->n)
		clock_gettime(CLOCK_MONOTONIC, &s->started);
	ca = (struct child_args){ .s = s, .st = st, .sp = sp, .argv = argv,
				  .parent = getpid(), .procs_fd = procs_fd };
	/*
	 * The child shares the agent's memory until it execs (CLONE_VM | CLONE_VFORK, what
	 * posix_spawn does): a fork would copy the address space with the agent's mmap lock
	 * held, and with hundreds of workers to start that stalled every page fault of the
	 * loop thread (seconds in all, measured). This thread waits until the child has
	 * exec'd or failed; the child runs on a stack of its own and, with every signal
	 * blocked, never runs one of the agent's handlers. It writes itself into the fault's
	 * cgroup before anything else (clone3's CLONE_INTO_CGROUP cannot be used without a
	 * new stack trampoline, and seccomp filters such as systemd's RestrictNamespaces=
	 * answer clone3 with ENOSYS anyway).
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = clone(child_entry, (char *)s->stack + CHILD_STACK_SIZE,
		    CLONE_VM | CLONE_VFORK | SIGCHLD, &ca);
	ret = pid < 0 ? -errno : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(procs_fd);
	if (ret) {
		snprintf(err, size, "clone of a worker: %s", strerror(-ret));
		return ret;
	}
	s->pids[s->n] = pid;
	s->wstatus[s->n] = -1;
	s->n++;
	/*
	 * Out of the agent's cpu scheduling group once it has exec'd, not before: until then
	 * this thread waits for it, and in the stressors' group, among the busy workers
	 * started before it, that wait doubled the start of 1,000 workers (measured). Not a
	 * container's workers: they are in its v1 cpu cgroup, under its quota, already.
	 */
	if (cpu_procs_fd >= 0 && !s->n_join) {
		char num[16];
		int len = snprintf(num, sizeof(num), "%d", (int)pid);
		ssize_t w = write(cpu_procs_fd, num, (size_t)len);

		/* A worker that failed at once has exited already: its status page says why. */
		if (w != len && !(w < 0 && errno == ESRCH)) {
			ret = w < 0 ? -errno : -EIO;
			snprintf(err, size, "moving worker %d into %s: %s", (int)pid,
				 "the stressors' cgroup of the v1 cpu hierarchy", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int stressor_journal_pids(struct stressor *s, struct fault *f, char *err, size_t size)
{
	json_t *pids = json_array();
	int ret;

	/*
	 * Once for all workers: the journaled cgroup already covers them (cgroup.kill), the
	 * pids are for the report and the pre-5.14 fallback; 4096 workers must not cost 4096
	 * ever longer journal writes.
	 */
	for (int i = 0; pids && i < s->n; i++)
		json_array_append_new(pids, json_pack("{s:i, s:I}", "pid", (int)s->pids[i],
						      "starttime",
						      (json_int_t)procfs_starttime(s->pids[i])));
	ret = stressor_undo_set(f, "pids", pids);
	if (ret)
		snprintf(err, size, "journaling the workers' pids: %s", strerror(-ret));
	return ret;
}

static int reap(struct stressor *s, int i)
{
	int wst;

	if (s->wstatus[i] != -1)
		return 1;
	if (waitpid(s->pids[i], &wst, WNOHANG) == s->pids[i]) {
		s->wstatus[i] = wst;
		return 1;
	}
	return 0;
}

int stressor_alive(struct stressor *s)
{
	int alive = 0;

	for (int i = 0; i < s->n; i++)
		alive += !reap(s, i);
	return alive;
}

bool stressor_revert_asked(const struct fault *f)
{
	return __atomic_load_n(&f->revert_asked, __ATOMIC_ACQUIRE);
}

/*
 * Until every worker has started (or one failed). The bound is on progress, not on the whole:
 * a worker that is not started START_WAIT_MS after the last one that did is stuck, but 1,000
 * workers each linking the agent's binary on a saturated 2-CPU host may take longer than that
 * in all while they keep coming (seen in CI, with qemu and other tests on the CPUs).
 */
int stressor_wait_started(struct stressor *s, struct fault *f, char *err, size_t size)
{
	uint64_t deadline = mono_ns() + START_WAIT_MS * 1000000ULL;
	int last = s->n + 1;

	int ret = stressor_journal_pids(s, f, err, size);

	if (ret)
		return ret;
	for (;;) {
		int starting = 0;

		for (int i = 0; i < s->n; i++) {
			struct stressor_status *st = &s->st[i];
			uint32_t state = __atomic_load_n(&st->state, __ATOMIC_ACQUIRE);

			if (state == STRESSOR_FAILED) {
				snprintf(err, size, "worker %d: %.*s: %s", (int)s->pids[i],
					 (int)sizeof(st->msg), st->msg, strerror(st->err));
				return st->err ? -st->err : -EIO;
			}
			if (state == STRESSOR_STARTING) {
				if (reap(s, i)) {
					snprintf(err, size, "worker %d exited before it started",
						 (int)s->pids[i]);
					return -ECHILD;
				}
				starting++;
			}
		}
		/*
		 * A revert was asked for meanwhile (DELETE, the lease's end): what started is
		 * enough for it to undo (the cgroup holds every worker, started or not).
		 */
		if (!starting || stressor_revert_asked(f))
			return 0;
		if (starting < last) {
			last = starting;
			deadline = mono_ns() + START_WAIT_MS * 1000000ULL;
		} else if (mono_ns() > deadline) {
			snprintf(err, size,
				 "%d of %d workers did not start: none started for %d s", starting,
				 s->n, START_WAIT_MS / 1000);
			return -ETIMEDOUT;
		}
		sleep_ms(2);
	}
}

/* Pids listed in a cgroup's cgroup.procs; 0 when the cgroup is empty. */
static int cgroup_pids(const char *cgroup, pid_t *pids, int max)
{
	char path[600];
	int n = 0, pid;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	while (n < max && fscanf(fp, "%d", &pid) == 1)
		pids[n++] = pid;
	fclose(fp);
	return n;
}

/*
 * Kill everything in the cgroup and remove it: cgroup.kill where the kernel has it (5.14),
 * else SIGKILL to every listed pid until none is left. Bounded; 0 or -errno with err.
 */
static int cgroup_kill_remove(const char *cgroup, struct stressor *s, char *err, size_t size)
{
	uint64_t deadline = mono_ns() + STOP_WAIT_MS * 1000000ULL;
	char path[600];
	pid_t pids[256];
	int ret, n, have_kill;

	snprintf(path, sizeof(path), "%s/cgroup.kill", cgroup);
	have_kill = !access(path, F_OK);
	if (access(cgroup, F_OK) && errno == ENOENT)
		return 0;
	for (;;) {
		if (have_kill) {
			ret = write_file(path, "1");
			if (ret && ret != -ENOENT) {
				snprintf(err, size, "writing %s: %s", path, strerror(-ret));
				return ret;
			}
		} else {
			n = cgroup_pids(cgroup, pids, 256);
			for (int i = 0; i < n; i++)
				kill(pids[i], SIGKILL);
		}
		/* Our own children must be reaped before the cgroup counts as empty. */
		if (s)
			stressor_alive(s);
		if (!rmdir(cgroup) || errno == ENOENT) {
			/* Zombies no longer count as members: reap them all the same. */
			while (s && stressor_alive(s) && mono_ns() < deadline)
				sleep_ms(1);
			return 0;
		}
		ret = -errno;
		if (ret != -EBUSY) {
			snprintf(err, size, "removing cgroup %s: %s", cgroup, strerror(-ret));
			return ret;
		}
		if (mono_ns() > deadline) {
			n = cgroup_pids(cgroup, pids, 256);
			snprintf(err, size, "cgroup %s still holds %d process%s after %d s", cgroup,
				 n, n == 1 ? "" : "es", STOP_WAIT_MS / 1000);
			return -EBUSY;
		}
		sleep_ms(5);
	}
}

int stressor_stop(struct stressor *s, char *err, size_t size)
{
	int ret;

	if (!s)
		return 0;
	/* The workers die now on purpose: none of it is a degradation. */
	s->stopping = true;
	if (s->watch)
		uv_timer_stop(s->watch);
	/*
	 * Workers in a container's cgroups have left the fault's: killed by pid (unreaped
	 * children, so no pid can have been reused), then reaped below.
	 */
	for (int i = 0; s->n_join && i < s->n; i++)
		if (s->wstatus[i] == -1)
			kill(s->pids[i], SIGKILL);
	if (s->cgroup[0]) {
		ret = cgroup_kill_remove(s->cgroup, s, err, size);
		if (ret)
			return ret;
		s->cgroup[0] = '\0';
	}
	if (s->file) {
		char report[FAULT_ERR_SIZE] = "";

		ret = stressor_remove_file(s->file_dirfd >= 0 ? s->file_dirfd : AT_FDCWD, s->file,
					   s->file_dev, s->file_ino, NULL, report, sizeof(report));
		if (ret < 0) {
			snprintf(err, size, "%s", report);
			return ret;
		}
		if (ret)
			log_warn("stressor: %s", report);
		free(s->file);
		s->file = NULL;
	}
	if (s->file_fd >= 0) {
		close(s->file_fd);
		s->file_fd = -1;
	}
	return 0;
}

void stressor_abort(struct stressor *s, const struct fault *f)
{
	char err[FAULT_ERR_SIZE] = "";

	if (stressor_stop(s, err, sizeof(err)))
		log_err("fault %s: stopping the stressor after a failed apply: %s", f->id, err);
}

static void watch_closed(uv_handle_t *h)
{
	free(h);
}

void stressor_free(struct stressor *s)
{
	if (!s)
		return;
	if (s->watch)
		uv_close((uv_handle_t *)s->watch, watch_closed);
	json_decref(s->degraded);
	free(s->reported);
	if (s->cgroup_fd >= 0)
		close(s->cgroup_fd);
	if (s->file_fd >= 0)
		close(s->file_fd);
	if (s->file_dirfd >= 0)
		close(s->file_dirfd);
	if (s->st != MAP_FAILED)
		munmap(s->st, s->st_size);
	if (s->stack != MAP_FAILED)
		munmap(s->stack, CHILD_STACK_SIZE);
	if (s->st_fd >= 0)
		close(s->st_fd);
	stressor_container_release(s);
	free(s->file);
	free(s->pids);
	free(s->wstatus);
	free(s);
}

int stressor_cleanup(const json_t *undo, char *report, size_t size)
{
	const char *cgroup = NULL, *path = NULL, *base;
	json_int_t dev = 0, ino = 0;
	char parent[300], why[256] = "", xid[40] = "";
	int xattr = 0, ret;
	size_t off = 0;

	if (!undo) {
		snprintf(report, size, "nothing had been started");
		return 0;
	}
	json_unpack((json_t *)undo, "{s?s}", "cgroup", &cgroup);
	if (cgroup) {
		/* Only a cgroup of the shape stressors create, in their parent. */
		base = strrchr(cgroup, '/');
		if (parent_path(parent, sizeof(parent)) || !base ||
		    (size_t)(base - cgroup) != strlen(parent) ||
		    strncmp(cgroup, parent, strlen(parent)) ||
		    strncmp(base + 1, STRESSOR_CGROUP_PREFIX, strlen(STRESSOR_CGROUP_PREFIX))) {
			snprintf(report, size, "cgroup %s is not a stressor cgroup; left alone",
				 cgroup);
			return -EINVAL;
		}
		ret = cgroup_kill_remove(cgroup, NULL, why, sizeof(why));
		if (ret) {
			snprintf(report, size, "%s", why);
			return ret;
		}
		off += snprintf(report + off, size - off, "killed the workers and removed %s",
				cgroup);
		snprintf(xid, sizeof(xid), "%s", base + 1 + strlen(STRESSOR_CGROUP_PREFIX));
	}
	if (!json_unpack((json_t *)undo, "{s:{s:s, s:I, s:I, s?b}}", "file", "path", &path, "dev",
			 &dev, "ino", &ino, "xattr", &xattr)) {
		const char *name = path, *in = "";
		json_int_t rpid = 0, rstart = 0;
		char dir[PATH_MAX];
		int dirfd = AT_FDCWD;

		/* A file inside a container: found again in the root of its main process. */
		if (!json_unpack((json_t *)undo, "{s:{s:{s:I, s:I}}}", "file", "root", "pid", &rpid,
				 "starttime", &rstart)) {
			ret = stressor_parent_dir(path, dir, sizeof(dir));
			if (!ret)
				ret = stressor_root_dir((pid_t)rpid, (unsigned long long)rstart,
							dir, &dirfd);
			if (ret == -ESRCH || ret == -ENOENT)
				return stressor_cleanup_gone_root(undo, path, (int)rpid,
								  xattr && xid[0] ? xid : NULL,
								  report, off, size);
			if (ret) {
				snprintf(report, size, "opening %s inside the root of pid %d: %s",
					 dir, (int)rpid, strerror(-ret));
				return ret;
			}
			name = strrchr(path, '/') + 1;
			in = " inside the container's root";
		}
		ret = stressor_remove_file(dirfd, name, (dev_t)dev, (ino_t)ino,
					   xattr && xid[0] ? xid : NULL, why, sizeof(why));
		if (dirfd != AT_FDCWD)
			close(dirfd);
		if (ret < 0) {
			snprintf(report, size, "%s", why);
			return ret;
		}
		if (off < size)
			off += snprintf(report + off, size - off, "%s%s", off ? "; " : "",
					ret ? why : "removed ");
		if (!ret && off < size)
			snprintf(report + off, size - off, "%s%s", path, in);
	}
	if (!report[0])
		snprintf(report, size, "nothing had been started");
	return 0;
}

int stressor_resident(struct stressor *s, uint64_t *bytes, const char **source)
{
	char path[64];
	uint64_t sum = 0, v;

	for (int i = 0; i < s->n; i++) {
		if (reap(s, i))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)s->pids[i]);
		if (!stressor_kb_field(path, "RssAnon", &v))
			sum += v;
	}
	*bytes = sum;
	*source = "RssAnon of /proc/PID/status (no memory controller needed)";
	return 0;
}
