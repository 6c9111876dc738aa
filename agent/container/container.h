/*
 * Containers as the agent sees them: which running container each process is in (by the
 * cgroup its runtime named after the container's id, ctr_cgroup.h), joined with the names and
 * compose labels of the Docker Engine API that docker and podman serve on a Unix socket.
 * Resolves a target's container key to the ids of the containers it names.
 */
#ifndef FL_CONTAINER_H
#define FL_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "ctr_cgroup.h"

struct container_ref;
struct policy;

/* Engine sockets probed when none is configured (docker's, then the rootful podman service's). */
#define CTR_DEFAULT_ENGINES "/run/docker.sock,/run/podman/podman.sock"
#define CTR_MAX_ENGINES 8

/* One container running on this host. */
struct ctr_info {
	char id[CTR_ID_LEN + 1];
	int runtime;	  /* enum container_runtime, from the cgroup name or the engine */
	char name[128];	  /* "" when no engine names it */
	char project[64]; /* com.docker.compose.project, "" when not set */
	char service[64]; /* com.docker.compose.service */
	char engine[108]; /* the socket of the engine that named it, "" when none did */
	pid_t main_pid;	  /* its first process (the oldest one in its cgroup) */
	unsigned long long main_start;
	size_t n_procs;
	uint64_t netns; /* inode of main_pid's network namespace, 0 when unreadable */
	struct ctr_cgroup cg;
	bool self;		/* the agent runs in it */
	char protected_by[160]; /* the policy's rule that protects it, "" when none */
};

/*
 * Set the Engine API sockets (a comma-separated list of absolute paths; NULL: the default
 * ones) and probe each: version and kind (docker or podman), or why it does not answer.
 * Called once at start, before any other thread runs. 0, -EINVAL for a bad list, -ENOMEM.
 */
int ctr_engines_init(const char *sockets);

/*
 * The policy whose protected_containers and max_containers_per_fault every resolve enforces
 * (not owned; it lives as long as the agent). Called once at start, like ctr_engines_init().
 */
void ctr_set_policy(const struct policy *p);

/* The engines and what their probe found, for GET /v1/info. */
json_t *ctr_engines_json(void);

/*
 * Every container with a process on this host, sorted by id, joined with what the engines
 * say (names, labels). 0 with a malloc'd *out, or -errno.
 */
int ctr_list(struct ctr_info **out, size_t *n);

/*
 * The containers whose processes no process selector may pick, whatever it names: the
 * agent's own, and with the policy's protected_containers set, the ones it protects and the
 * ones no engine names (their labels unknown). Without that list no engine is asked (only
 * the agent's own container, by its cgroup or mountinfo). 0 with a malloc'd *out, or -errno.
 */
int ctr_guarded(struct ctr_info **out, size_t *n);

/*
 * {"engines": [...], "containers": [...]}: GET /v1/containers; more (optional) adds to each
 * container's entry (the API: its interfaces). NULL without memory.
 */
json_t *ctr_list_json(void (*more)(json_t *entry, const struct ctr_info *c));

/* One container's entry of ctr_list_json(). */
json_t *ctr_info_json(const struct ctr_info *c);

/*
 * The running containers ref names: by id (the full id, or a prefix that must name exactly
 * one), by name (exactly one), or by compose project and service (every container of the
 * service, at least one), of ref->runtime unless auto. 0 with a malloc'd array of
 * infos; -ESRCH (none runs here, or one the policy's protected_containers protects, or one
 * the engines do not name while that list is set), -E2BIG (more than the policy's
 * max_containers_per_fault), -EINVAL (an ambiguous prefix or name), -EPERM (the agent's own
 * container) or -EOPNOTSUPP (a name with no engine to ask), each with err saying why.
 */
int ctr_resolve(const struct container_ref *ref, struct ctr_info **out, size_t *n, char *err,
		size_t size);

/*
 * ctr_resolve() for a fault that acts in exactly one container: more matches are refused
 * (-EINVAL) with "target.container: ONE, and N match (ID, ID, ...); HINT", where one says why
 * one ("a stressor runs in one container") and hint what to do. 0 with *out to free().
 */
int ctr_resolve_one(const struct container_ref *ref, const char *one, const char *hint,
		    struct ctr_info **out, char *err, size_t size);

/*
 * The container id process pid is in (a CTR_ID_LEN + 1 buffer): 0, -ENOENT when in none,
 * -ESRCH when the process is gone.
 */
int ctr_pid_id(pid_t pid, char *id);

/*
 * Mount point of the v1 hierarchy that holds the freezer controller: 0, or -ENOENT on a
 * v2-only host.
 */
int ctr_freezer_v1_root(char *buf, size_t size);

#endif
