/* Process selection for process faults: match /proc against a selector, never a protected one. */
#ifndef FL_PROCSEL_H
#define FL_PROCSEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <stdbool.h>

#include <jansson.h>

struct container_ref;
struct policy;
struct proc_target;

struct proc_match {
	pid_t pid;
	unsigned long long starttime; /* /proc/PID/stat field 22: tells a recycled pid apart */
	char comm[16];
	const char *why; /* why it is protected (a static string), NULL when it may be hit */
};

/*
 * Whom a selection never touches besides the fixed protections (pid 1, kernel threads, every
 * faultlined, sshd, package managers, init and system daemons, container runtimes): the
 * requesting controller's process and session and the policy's names. Captured once when a
 * fault is applied, so a repeating fault keeps protecting the session of the controller that
 * asked even after that process has exited and its pid was reused.
 */
struct procsel_guard {
	pid_t peer_pid; /* 0 when unknown */
	pid_t peer_sid;
	bool peer_sid_known;
	char *const *names; /* the policy's protected process names (not owned) */
	size_t n_names;
	uint32_t max_procs; /* the policy's max_processes_per_fault; 0: no cap */
	char self_exe[512]; /* the agent's executable ("" if unknown): its copies are protected */
};

void procsel_guard_init(struct procsel_guard *g, pid_t peer_pid, const struct policy *p);

/* A fresh random seed, non-zero and below 2^53 (exact in JSON). */
uint64_t procsel_random_seed(void);

/* The seed a fault chooses with: t->seed, or procsel_random_seed(). */
uint64_t procsel_seed(const struct proc_target *t);

/*
 * Select processes matching every criterion of t, excluding protected ones and zombies.
 * Applies count/percent/all with the seeded choice of lib/pick.h among the matches sorted by
 * pid, so the same seed and the same matches give the same choice.
 * Returns 0 with a malloc'd array (*n_matched: how many matched before the choice); -ESRCH
 * when nothing may be hit (nothing matches, or all that match are protected), -E2BIG when more
 * than g->max_procs would be hit (err says so, naming the count and the policy key); -EINVAL
 * for a bad selector. Nothing is signalled here: callers signal only after a 0.
 */
int procsel_select(const struct proc_target *t, const struct procsel_guard *g, uint64_t seed,
		   struct proc_match **out, size_t *n_out, size_t *n_matched, char *err,
		   size_t err_size);

/*
 * procsel_select(), and with a target.container also the containers it resolved (*ctrs, a
 * malloc'd array of *n_ctrs, NULL without one): the selected processes are among theirs.
 */
struct ctr_info;
int procsel_select_ctrs(const struct proc_target *t, const struct procsel_guard *g, uint64_t seed,
			struct proc_match **out, size_t *n_out, size_t *n_matched,
			struct ctr_info **ctrs, size_t *n_ctrs, char *err, size_t err_size);

/*
 * What t would hit now, without touching anything: *out = {"matched", "would_hit",
 * "protected_matches", "processes": [{pid, comm, user, uid, cgroup}], "protected": [{pid,
 * comm, user, uid, cgroup, why}]}. Returns 0 when an apply would go ahead, or what
 * procsel_select() would return (-ESRCH, -E2BIG) with err saying why, *out set
 * either way; -EINVAL for a bad selector (err says why) or -ENOMEM without *out.
 */
int procsel_resolve(const struct proc_target *t, const struct procsel_guard *g, json_t **out,
		    char *err, size_t err_size);

/*
 * Whether a process the guard protects lives in the cgroup v2 path cgroup or below it (a
 * freezer on it would stop that process), or more processes than g->max_procs do. Returns 0
 * when neither, -EPERM with err naming a protected one, -E2BIG with err naming the count and
 * max_processes_per_fault, or -errno when /proc cannot be read.
 */
int procsel_cgroup_protected(const char *cgroup, const struct procsel_guard *g, char *err,
			     size_t err_size);

/*
 * Whether the containers ref names hold a process the guard protects (a runtime's daemon, a
 * package manager, another faultlined, ...), for a fault that acts on every process of them
 * at once (a freezer) or on the container itself (a stressor's workers in its cgroups, a
 * file filling its filesystem). -EPERM with err "target.container: ID holds pid N (COMM),
 * which is protected (WHY): not VERB"; else 0, or -ESRCH (no process) or -E2BIG (more than
 * g->max_procs: 0 for no cap) with err; the refusals of ctr_resolve().
 */
int procsel_container_guard(const struct container_ref *ref, const struct procsel_guard *g,
			    const char *verb, char *err, size_t err_size);

/*
 * Whether this kernel has pidfds (pidfd_open, Linux 5.3): 0, or -EOPNOTSUPP (or -errno) with
 * why filled in. Process faults signal only through pidfds.
 */
int procsel_probe(char *why, size_t size);

/*
 * Open a pidfd for pid and make sure it is the process that started at starttime (not a
 * recycled pid). Returns the fd, -ESRCH when that process is gone, or -errno.
 */
int procsel_pidfd(pid_t pid, unsigned long long starttime);

/* Send sig through a pidfd to the process pid/starttime. 0, -ESRCH (gone) or -errno. */
int procsel_signal(pid_t pid, unsigned long long starttime, int sig);

#endif
