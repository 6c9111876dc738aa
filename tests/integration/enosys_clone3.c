/*
 * enosys_clone3 CMD [ARGS...]: runs CMD under a seccomp filter that answers clone3(2) with
 * ENOSYS and allows everything else, as systemd's RestrictNamespaces= and container
 * runtimes' default profiles do (they cannot inspect clone3's flags, which are in a struct).
 * For test_stress_cpu.sh: the stressors' clone fallback, outside systemd.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

#if defined(__x86_64__)
#define FL_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FL_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "enosys_clone3: add this architecture's AUDIT_ARCH_*"
#endif

int main(int argc, char **argv)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FL_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };

	if (argc < 2) {
		fprintf(stderr, "usage: enosys_clone3 CMD [ARGS...]\n");
		return 2;
	}
	/* Unprivileged filters need no_new_privs; the agent sets it itself after start-up. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		fprintf(stderr, "enosys_clone3: no_new_privs: %s\n", strerror(errno));
		return 1;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		fprintf(stderr, "enosys_clone3: seccomp: %s\n", strerror(errno));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "enosys_clone3: exec %s: %s\n", argv[1], strerror(errno));
	return 127;
}
