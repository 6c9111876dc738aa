/*
 * Container ids in cgroup paths: every runtime names a container's cgroup after its 64-digit
 * id (docker, containerd and CRI-O under Kubernetes, podman), on v1, hybrid and v2
 * hierarchies. Pure text parsing, no system calls: tests/unit/test_ctr_cgroup.c feeds it
 * /proc/PID/cgroup texts.
 */
#ifndef FL_CTR_CGROUP_H
#define FL_CTR_CGROUP_H

#include <stddef.h>

#define CTR_ID_LEN 64
#define CTR_PATH_MAX 512

/* Where one process sits, as its /proc/PID/cgroup says. */
struct ctr_cgroup {
	char id[CTR_ID_LEN + 1]; /* the container's id */
	int runtime;		 /* enum container_runtime; AUTO when the path does not say */
	/*
	 * The container's own cgroups (cut after the component that names the id: a process
	 * in a subgroup such as podman's libpod-ID.scope/container still yields the
	 * container's), "" where the process has no such line.
	 */
	char v2[CTR_PATH_MAX];	    /* the unified hierarchy's ("0::") */
	char freezer[CTR_PATH_MAX]; /* the v1 freezer hierarchy's */
};

/*
 * The container a cgroup path names: the innermost component that is docker-ID(.scope),
 * cri-containerd-ID(.scope), crio-ID(.scope), libpod-ID(.scope), or a bare ID under
 * /docker or a kubepods hierarchy. Fills id (65 bytes), *runtime and *end (the length of
 * path up to the end of that component). 0, or -ENOENT when the path names no container.
 */
int ctr_cgroup_path_id(const char *path, char *id, int *runtime, size_t *end);

/*
 * Parse a whole /proc/PID/cgroup text. 0 with out filled, -ENOENT when no line names a
 * container, -EINVAL when two lines name different ones (nothing a runtime does).
 */
int ctr_cgroup_parse(const char *text, struct ctr_cgroup *out);

/*
 * The container a /proc/self/mountinfo text says the reader runs in, from the files runtimes
 * bind into every container (/etc/hostname, /etc/hosts, /etc/resolv.conf): their source is
 * docker's .../containers/ID/... or podman's .../overlay-containers/ID/userdata/.... For a
 * process whose /proc/self/cgroup names no container (a private cgroup namespace).
 * 0 with id (65 bytes), or -ENOENT.
 */
int ctr_mountinfo_id(const char *text, char *id);

#endif
