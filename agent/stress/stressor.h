/*
 * Shared machinery of the stress.* fault types: each stressor is a set of worker processes
 * (the agent binary re-executed in a hidden mode, stressor_worker.c) born inside a cgroup v2
 * of their own, with oom_score_adj 1000, no capabilities and no_new_privs. They are killed
 * together through cgroup.kill; the journal names the cgroup, the pids and any file made.
 */
#ifndef FL_AGENT_STRESSOR_H
#define FL_AGENT_STRESSOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "fault.h"

struct agent;
struct fault;
struct fault_target;

/* argv[1] of a re-executed agent that runs one worker (main.c hands it over). */
#define STRESSOR_WORKER_ARG "--internal-stress-worker"

/*
 * Stressor cgroups live in one parent under the cgroup v2 root, created at start-up while
 * the agent still has every capability: the root's directory is mode 0555, so creating a
 * cgroup there would need CAP_DAC_OVERRIDE for the agent's whole life. The parent is the
 * agent's like its state directory and stays; each fault's cgroup (prefix + fault id) goes
 * with the fault.
 */
#define STRESSOR_CGROUP_PARENT "faultline"
#define STRESSOR_CGROUP_PREFIX "stress-"

/* Extended attribute set on files the stressors create, holding the fault id. */
#define STRESSOR_XATTR "user.faultline.fault"

/* v1 hierarchies plus the unified one a container's workers may join. */
#define STRESSOR_MAX_JOIN 16

enum stressor_state {
	STRESSOR_STARTING, /* before the worker's main loop */
	STRESSOR_RUNNING,  /* working towards its target */
	STRESSOR_HOLDING,  /* target reached, holding it */
	STRESSOR_LIMITED,  /* stopped short of its target: msg says why */
	STRESSOR_FAILED,   /* gave up: err and msg say why */
};

/* One worker's report, in a shared page the agent reads for describe. */
struct stressor_status {
	uint32_t state; /* enum stressor_state */
	int32_t err;	/* errno of a failure */
	uint64_t done;	/* bytes touched or written, descriptors held, CPU ns used */
	uint64_t extra; /* fsyncs (io) */
	char msg[200];
};

struct stressor {
	char cgroup[512]; /* absolute path of the cgroup directory */
	int cgroup_fd;
	int n, cap;
	pid_t *pids;
	int *wstatus; /* -1 while running, else the waitpid status */
	struct stressor_status *st;
	size_t st_size;
	int st_fd;
	struct timespec started; /* CLOCK_MONOTONIC, when the first worker was spawned */
	void *stack;		 /* what a new worker runs on until it execs (MAP_FAILED) */
	/* A file this stressor created (disk fill, io): removed on stop if still ours. */
	char *file;
	int file_dirfd; /* a container target: the directory (of its root) file is in, or -1 */
	dev_t file_dev;
	ino_t file_ino;
	int file_fd;
	/*
	 * The watch of an active stressor (stressor_watch): a worker that dies while the fault
	 * is active (the OOM killer picks them first: oom_score_adj 1000) is reported once, as
	 * a fault.degraded event and an entry of degraded, until stop sets stopping.
	 */
	struct fault *fault;
	uv_timer_t *watch;
	bool stopping;
	bool *reported;
	json_t *degraded;
	/*
	 * A container target (stressor_ctr.c): the cgroup.procs of the container's cgroups
	 * every worker writes itself into before it execs, and where its OOM kills are counted.
	 */
	char ctr_id[65];
	char ctr_desc[160]; /* "container web (0123456789ab)" */
	pid_t ctr_pid;	    /* its main process, and when it started */
	unsigned long long ctr_start;
	uint64_t ctr_netns;
	int n_join;
	int join_fd[STRESSOR_MAX_JOIN];
	char *join_dir[STRESSOR_MAX_JOIN];
	char *oom_file;
};

/* What a worker needs from the agent, besides its arguments. */
struct stressor_spawn {
	const char *const *args; /* the mode and its arguments, NULL-terminated */
	int cpu;		 /* pin to this CPU, or -1 */
	int data_fd;		 /* becomes the worker's fd 4, or -1 */
	rlim_t nofile;		 /* RLIMIT_NOFILE for the worker, or 0 to inherit */
};

/* Create the parent cgroup (before the agent drops capabilities). 0 or -errno. */
int stressor_setup(void);

/* Is everything stressors need there? 0, or -EOPNOTSUPP with why filled in. */
int stressor_probe(char *why, size_t size);

/*
 * Create the stressor of fault f: journal the cgroup in f->undo, then create it, and map a
 * status page for max_workers workers. 0 or -errno with err filled in.
 */
int stressor_new(struct fault *f, int max_workers, struct stressor **out, char *err,
		 size_t size);

/*
 * Create the file at path (which must not exist) for f, crash-safely: an unnamed file is
 * made in the directory, its identity journaled, and only then is it linked in place.
 */
int stressor_create_file(struct stressor *s, struct fault *f, const char *path, char *err,
			 size_t size);

/*
 * The same, as r->base inside directory r->dirfd (stressor_container_dir; NULL or -1: path
 * on the host). path names it in messages; the journal records it with r's process, so a
 * crash cleanup finds it again in that root.
 */
struct stressor_root;
int stressor_create_file_at(struct stressor *s, struct fault *f, const struct stressor_root *r,
			    const char *path, char *err, size_t size);

/*
 * With a container target (f's stress target), resolve the container and open the
 * cgroups of its main process that every worker then joins: each v1 hierarchy with
 * controllers and the unified one, where the path names the container and the agent may
 * write. Call after stressor_new, before stressor_start. 0 (also without a container), or
 * -errno with err filled in.
 */
int stressor_container(struct stressor *s, struct fault *f, char *err, size_t size);

/*
 * fault_ops.target_container of the stressors that run inside a container (stress.cpu,
 * stress.memory): the container stressor_container() resolved; -ENOENT without one.
 */
int stressor_target_container(const struct stressor *s, struct fault_target *t);

/* {"id": ..., "cgroups": [...]}: the container and the cgroups its workers joined. */
json_t *stressor_container_json(const struct stressor *s);

/* A directory inside a container's filesystem, and the process whose root it is in. */
struct stressor_root {
	int dirfd;	  /* O_PATH, or -1: the path is on the host */
	const char *base; /* the last component of the path */
	pid_t pid;	  /* the container's main process */
	unsigned long long start;
	/* The container itself, for the watch on its exit (fault_ops.target_container). */
	struct fault_target ctr;
};

/*
 * fault_ops.target_container of the stressors that write inside a container's filesystem
 * (stress.disk_fill, stress.io): the container stressor_container_dir() resolved into r;
 * -ENOENT without one (r NULL, or a path on the host).
 */
int stressor_root_target(const struct stressor_root *r, struct fault_target *t);

/*
 * With a container target, open the directory of path inside the container's filesystem,
 * from an fd of /proc/MAIN/root with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so no
 * symlink the container holds can lead to a host file. r->dirfd -1 without a container
 * target. 0 or -errno with err filled in.
 */
int stressor_container_dir(struct fault *f, const char *path, struct stressor_root *r, char *err,
			   size_t size);

/*
 * Open dir inside the root of process pid (if its start time is still start) the same
 * way: 0 with *dirfd, -ESRCH when that process is gone, or -errno.
 */
int stressor_root_dir(pid_t pid, unsigned long long start, const char *dir, int *dirfd);

/*
 * Where a directory of a container's root filesystem lies on the host: the overlay upper
 * directory of the container's root mount (the runtime's storage, e.g.
 * /var/lib/containers/storage/overlay/ID/diff), read from /proc/PID/mountinfo of its main
 * process, when dirfd (a directory opened inside its root) is on that mount and pid still
 * started at start. 0 with upper (the upper directory) filled, -ENOENT when the directory is
 * elsewhere (a volume, a root that is not overlay), -ESRCH when the process is gone.
 */
int stressor_upper_dir(pid_t pid, unsigned long long start, int dirfd, char *upper, size_t size);

/*
 * Open the directory rel (relative, "" for upper itself) below upper, never through a
 * symlink or another mount: a container's upper directory holds what the container wrote,
 * symlinks included. 0 with *dirfd (O_PATH), or -errno.
 */
int stressor_upper_open(const char *upper, const char *rel, int *dirfd);

/*
 * resolve (POST /v1/resolve) of the stress types: with a container target, the container
 * (as GET /v1/containers lists it), refused as an apply would refuse it (not running here,
 * protected, the agent's own, holding a protected process). Without one, nothing: 0 with
 * *out NULL.
 */
int stressor_resolve(struct agent *a, struct fault *f, json_t **out, char *err, size_t size);

/* Close what stressor_container opened. */
void stressor_container_release(struct stressor *s);

/* Start one worker in the cgroup. 0 or -errno with err filled in. */
int stressor_start(struct stressor *s, struct fault *f, const struct stressor_spawn *sp,
		   char *err, size_t size);

/* Journal the pids of the workers started so far. */
int stressor_journal_pids(struct stressor *s, struct fault *f, char *err, size_t size);

/*
 * Journal the workers' pids, then wait (bounded) until every worker has left STARTING;
 * a failed one is an error.
 */
int stressor_wait_started(struct stressor *s, struct fault *f, char *err, size_t size);

/*
 * Was f's revert asked for while it is being applied (fault.h, revert_asked)? Then an apply
 * spawning many workers stops spawning: the revert that follows undoes what it started.
 */
bool stressor_revert_asked(const struct fault *f);

/* Kill every worker, remove the cgroup and the file. Idempotent. 0 or -errno with err. */
int stressor_stop(struct stressor *s, char *err, size_t size);

/* Stop after a failed apply, keeping the apply's error: a failure to stop is logged. */
void stressor_abort(struct stressor *s, const struct fault *f);

void stressor_free(struct stressor *s);

/* Crash recovery of any stressor from its undo record. */
int stressor_cleanup(const json_t *undo, char *report, size_t size);

/*
 * Watch the workers of an active stressor (on the loop, from the type's activated hook):
 * every STRESSOR_WATCH_MS, and at every describe, a worker that has died since is reported
 * as a fault.degraded event (which worker, its signal or exit status) and listed under
 * "degraded" in the status. Stop ends the watch. 0 or -errno (logged; the fault goes on).
 */
#define STRESSOR_WATCH_MS 250
int stressor_watch(struct stressor *s, struct fault *f);

/* Reap exited workers; returns how many still run. */
int stressor_alive(struct stressor *s);

/* Nanoseconds since the workers started. */
uint64_t stressor_elapsed_ns(const struct stressor *s);

/* usage_usec of the cgroup's cpu.stat (a core file of cgroup v2, no controller needed). */
int stressor_cpu_usec(const struct stressor *s, uint64_t *usec);

/* Resident anonymous memory of the workers; *source names where it came from. */
int stressor_resident(struct stressor *s, uint64_t *bytes, const char **source);

/* The fields every stressor's describe starts with: cgroup, workers, elapsed, states. */
json_t *stressor_describe(struct stressor *s);

/* MemTotal and MemAvailable of /proc/meminfo in bytes. */
int stressor_meminfo(uint64_t *total, uint64_t *avail);

/* A "Key: N kB" field of a /proc file (meminfo, PID/status) in bytes. 0 or -errno. */
int stressor_kb_field(const char *path, const char *key, uint64_t *bytes);

/* The re-executed worker: never returns. */
int stressor_worker_main(int argc, char **argv);

/*
 * Between stressor.c and stressor_file.c (the fault's file), not for the fault types.
 */

/* Set key of the undo record (f->undo, created if need be) to val and journal it. */
int stressor_undo_set(struct fault *f, const char *key, json_t *val);

/* The directory part of path ("/" for "/x") into buf; -EINVAL without a name after it. */
int stressor_parent_dir(const char *path, char *buf, size_t size);

/*
 * Remove path (relative to dirfd, AT_FDCWD for the host's) if it is still the file with this
 * identity (and our xattr when xattr_id is set): 0 removed or absent, 1 left alone (report
 * says why), -errno (report says what failed).
 */
int stressor_remove_file(int dirfd, const char *path, dev_t dev, ino_t ino, const char *xattr_id,
			 char *report, size_t size);

/*
 * Crash cleanup of a file inside a container whose root is gone: removed where a stopped
 * container keeps it on the host (the journal's "upper"), the outcome appended to report at
 * off. 0 or -errno (report says what failed).
 */
int stressor_cleanup_gone_root(const json_t *undo, const char *path, int rpid, const char *xid,
			       char *report, size_t off, size_t size);

#endif
