/*
 * The container a process is in, from its /proc/PID/cgroup text: the cgroup names of docker,
 * containerd, CRI-O and podman on v1, hybrid and v2 hierarchies (agent/container/ctr_cgroup.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctr_cgroup.h"
#include "exp.h"

#define ID "2e4763818fc5e21c2c2e26d4dd87cd63fc28cdefd77a44733c7541c7c89847c9"
#define ID2 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void expect(const char *text, int runtime, const char *v2, const char *freezer)
{
	struct ctr_cgroup cg;

	assert_int_equal(ctr_cgroup_parse(text, &cg), 0);
	assert_string_equal(cg.id, ID);
	assert_int_equal(cg.runtime, runtime);
	assert_string_equal(cg.v2, v2);
	assert_string_equal(cg.freezer, freezer);
}

/* podman with the cgroupfs manager on this machine's hybrid layout (KERNEL.md). */
static void test_podman_hybrid(void **state)
{
	expect("9:name=systemd:/libpod_parent/libpod-" ID "\n"
	       "8:pids:/libpod_parent/libpod-" ID "\n"
	       "6:freezer:/libpod_parent/libpod-" ID "\n"
	       "2:cpu,cpuacct:/libpod_parent/libpod-" ID "\n"
	       "0::/libpod_parent/libpod-" ID "\n",
	       CONTAINER_RUNTIME_PODMAN, "/libpod_parent/libpod-" ID, "/libpod_parent/libpod-" ID);
}

/* podman under systemd on v2: the container's cgroup is the scope, not its subgroup. */
static void test_podman_v2_subgroup(void **state)
{
	expect("0::/machine.slice/libpod-" ID ".scope/container\n", CONTAINER_RUNTIME_PODMAN,
	       "/machine.slice/libpod-" ID ".scope", "");
}

static void test_docker(void **state)
{
	/* cgroupfs driver, v1 only (no "0::" line with a path). */
	expect("12:freezer:/docker/" ID "\n11:memory:/docker/" ID "\n0::/\n",
	       CONTAINER_RUNTIME_DOCKER, "", "/docker/" ID);
	/* systemd driver, v2. */
	expect("0::/system.slice/docker-" ID ".scope\n", CONTAINER_RUNTIME_DOCKER,
	       "/system.slice/docker-" ID ".scope", "");
}

static void test_kubernetes(void **state)
{
	expect("0::/kubepods.slice/kubepods-burstable.slice/"
	       "kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/"
	       "cri-containerd-" ID ".scope\n",
	       CONTAINER_RUNTIME_CONTAINERD,
	       "/kubepods.slice/kubepods-burstable.slice/"
	       "kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/"
	       "cri-containerd-" ID ".scope",
	       "");
	/* kubelet's cgroupfs driver names the container by its bare id. */
	expect("7:freezer:/kubepods/besteffort/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/" ID "\n",
	       CONTAINER_RUNTIME_CONTAINERD, "",
	       "/kubepods/besteffort/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/" ID);
	expect("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podx.slice/"
	       "crio-" ID ".scope\n",
	       CONTAINER_RUNTIME_CRIO,
	       "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podx.slice/"
	       "crio-" ID ".scope",
	       "");
}

/* What is not a container: the host, the monitors, ids of the wrong length or case. */
static void test_not_containers(void **state)
{
	static const char *const texts[] = {
		"0::/user.slice/user-1000.slice/session-2.scope\n",
		"0::/\n",
		"",
		"0::/machine.slice/libpod-conmon-" ID ".scope\n",
		"0::/kubepods.slice/crio-conmon-" ID ".scope\n",
		"0::/system.slice/docker-" ID "0.scope\n",
		"0::/system.slice/"
		"docker-2E4763818FC5E21C2C2E26D4DD87CD63FC28CDEFD77A44733C7541C7C89847C9.scope\n",
		/* A bare 64-digit name means nothing outside /docker and kubepods. */
		"0::/somewhere/" ID "\n",
		"garbage without colons\n",
	};
	struct ctr_cgroup cg;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_int_equal(ctr_cgroup_parse(texts[i], &cg), -ENOENT);
}

/* Nested containers (docker in a pod): the innermost one is the process's. */
static void test_innermost(void **state)
{
	char id[CTR_ID_LEN + 1];
	size_t end;
	int rt;
	const char *path = "/kubepods/pod1/" ID2 "/docker/" ID "/sub";

	assert_int_equal(ctr_cgroup_path_id(path, id, &rt, &end), 0);
	assert_string_equal(id, ID);
	assert_int_equal(rt, CONTAINER_RUNTIME_DOCKER);
	assert_int_equal(end, strlen(path) - strlen("/sub"));
}

/* Two lines naming two containers is nothing a runtime does: refused, not guessed. */
static void test_inconsistent(void **state)
{
	struct ctr_cgroup cg;

	assert_int_equal(ctr_cgroup_parse("6:freezer:/docker/" ID "\n0::/docker/" ID2 "\n", &cg),
			 -EINVAL);
}

/* The agent's own container when its cgroup namespace hides it: the runtimes' bind mounts. */
static void test_mountinfo(void **state)
{
	static const char id[] = "6a2f1c9e0b7d4e3f8a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071";
	char text[4096], out[CTR_ID_LEN + 1];

	(void)state;
	/* docker: the source under /var/lib/docker/containers/ID/. */
	snprintf(text, sizeof(text),
		 "1385 1203 0:64 / / rw,relatime master:523 - overlay overlay rw,lowerdir=/x\n"
		 "1402 1385 8:1 /var/lib/docker/containers/%s/resolv.conf /etc/resolv.conf "
		 "rw,relatime - ext4 /dev/sda1 rw\n",
		 id);
	assert_int_equal(ctr_mountinfo_id(text, out), 0);
	assert_string_equal(out, id);
	/* podman: .../overlay-containers/ID/userdata/hostname, on its own mount of storage. */
	snprintf(text, sizeof(text),
		 "711 650 0:24 /containers/storage/overlay-containers/%s/userdata/hostname "
		 "/etc/hostname rw,nosuid,nodev - tmpfs tmpfs rw,mode=755",
		 id);
	assert_int_equal(ctr_mountinfo_id(text, out), 0);
	assert_string_equal(out, id);
	/* A CRI sandbox's id is the pod's, not the container's; a host has none of these. */
	snprintf(text, sizeof(text),
		 "900 890 8:1 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/%s/hostname "
		 "/etc/hostname rw - ext4 /dev/sda1 rw\n"
		 "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n",
		 id);
	assert_int_equal(ctr_mountinfo_id(text, out), -ENOENT);
	/* Another mount point with a container's path is not the reader's own (a volume). */
	snprintf(text, sizeof(text),
		 "1402 1385 8:1 /var/lib/docker/containers/%s/hostname /mnt/other rw - ext4 "
		 "/dev/sda1 rw\n",
		 id);
	assert_int_equal(ctr_mountinfo_id(text, out), -ENOENT);
	assert_int_equal(ctr_mountinfo_id("", out), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_podman_hybrid),  cmocka_unit_test(test_podman_v2_subgroup),
		cmocka_unit_test(test_docker),	       cmocka_unit_test(test_kubernetes),
		cmocka_unit_test(test_not_containers), cmocka_unit_test(test_innermost),
		cmocka_unit_test(test_inconsistent),   cmocka_unit_test(test_mountinfo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
