/*
 * bench_tcx: would tcx links (BPF_LINK_CREATE with BPF_TCX_INGRESS / BPF_TCX_EGRESS, kernel
 * 6.6+) make a network fault's attach + detach cheaper than the clsact qdisc + two cls_bpf
 * filters the agent uses? Measured on one device of the namespace this runs in (under
 * nsenter --net), with a two-instruction SCHED_CLS program (return TC_ACT_UNSPEC), in rounds
 * that alternate, so drift hits every variant alike:
 *
 *   clsact  add clsact, a direct-action filter on ingress and on egress, delete clsact
 *           (libbpf's bpf_tc_*(): what the agent's one-datagram batch does, less its batching)
 *   tcx     a link on ingress and one on egress, then both closed (the device's first and
 *           last tcx programs: revert = close, nothing left)
 *   tcxkept the same with another tcx link held on each hook of the device all along (what
 *           the agent would pay if it kept a link per faulted device between faults)
 *   filters the clsact pair's two filter adds and deletes with clsact kept on the device
 *           (what keeping clsact between faults would cost per pair)
 *
 * Usage: bench_tcx DEV N
 * Prints "tcx MEDIAN P90 REF_MEDIAN REF_P90 KEPT_MEDIAN KEPT_P90 FILTERS_MEDIAN FILTERS_P90"
 * (us, per pair, the reference being the clsact pair), or "tcx unsupported ERRNO-TEXT" when the
 * kernel has no tcx (before 6.6). Exit status: 0, 1 when a call failed (the reason on stderr), 2
 * for bad usage. Every link and the clsact it added are gone when it exits (links die with their
 * last fd).
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bench_util.h"

/* enum bpf_attach_type values of kernel 6.6 (the uapi headers of Debian 12 stop at 43). */
#define TCX_INGRESS 46
#define TCX_EGRESS 47

#define ROUND 5

static int tcx_pair(int prog, int ifindex)
{
	int in, out, err = 0;

	in = bpf_link_create(prog, ifindex, TCX_INGRESS, NULL);
	if (in < 0)
		return -errno;
	out = bpf_link_create(prog, ifindex, TCX_EGRESS, NULL);
	if (out < 0)
		err = -errno;
	close(in);
	if (out >= 0)
		close(out);
	return err;
}

/* With qdisc, clsact is added first and deleted last; without, it stays (made by the caller). */
static int clsact_pair(int prog, int ifindex, bool qdisc)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, in, .prog_fd = prog, .priority = 1, .handle = 1);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, out, .prog_fd = prog, .priority = 1, .handle = 1);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, del, .priority = 1, .handle = 1);
	int err = 0, e;

	if (qdisc)
		err = bpf_tc_hook_create(&hook);
	if (err)
		return err;
	hook.attach_point = BPF_TC_INGRESS;
	err = bpf_tc_attach(&hook, &in);
	hook.attach_point = BPF_TC_EGRESS;
	if (!err)
		err = bpf_tc_attach(&hook, &out);
	if (qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
		return err;
	}
	/* hook is on egress here; then ingress. */
	e = bpf_tc_detach(&hook, &del);
	if (e && !err)
		err = e;
	hook.attach_point = BPF_TC_INGRESS;
	e = bpf_tc_detach(&hook, &del);
	return e && !err ? e : err;
}

int main(int argc, char **argv)
{
	const struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1},
		{.code = BPF_JMP | BPF_EXIT},
	};
	double *tcx, *ref, *kept, *filters;
	int ifindex, n, prog, other, err, keep[2];
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	if (argc != 3 || !(ifindex = (int)if_nametoindex(argv[1])) || (n = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: bench_tcx DEV N (DEV a device of this namespace)\n");
		return 2;
	}
	/* other: the kept links' (a program goes on a hook once only: -EEXIST). */
	prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "fl_bench_tcx", "GPL", insns, 2, NULL);
	other = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "fl_bench_tcx2", "GPL", insns, 2, NULL);
	if (prog < 0 || other < 0) {
		fprintf(stderr, "bench_tcx: loading the program: %s\n", strerror(errno));
		return 1;
	}
	err = tcx_pair(prog, ifindex);
	if (err == -EINVAL || err == -EOPNOTSUPP) {
		printf("tcx unsupported %s\n", strerror(-err));
		return 0;
	}
	hook.ifindex = ifindex;
	tcx = calloc(n, sizeof(*tcx));
	ref = calloc(n, sizeof(*ref));
	kept = calloc(n, sizeof(*kept));
	filters = calloc(n, sizeof(*filters));
	if (!tcx || !ref || !kept || !filters) {
		fprintf(stderr, "bench_tcx: out of memory\n");
		return 1;
	}
	for (int i = 0; !err && i < n; i += ROUND) {
		for (int j = i; !err && j < n && j < i + ROUND; j++) {
			double t0 = bench_now_us();

			err = clsact_pair(prog, ifindex, true);
			ref[j] = bench_now_us() - t0;
		}
		for (int j = i; !err && j < n && j < i + ROUND; j++) {
			double t0 = bench_now_us();

			err = tcx_pair(prog, ifindex);
			tcx[j] = bench_now_us() - t0;
		}
		keep[0] = err ? -1 : bpf_link_create(other, ifindex, TCX_INGRESS, NULL);
		keep[1] = err ? -1 : bpf_link_create(other, ifindex, TCX_EGRESS, NULL);
		if ((keep[0] < 0 || keep[1] < 0) && !err)
			err = -errno;
		for (int j = i; !err && j < n && j < i + ROUND; j++) {
			double t0 = bench_now_us();

			err = tcx_pair(prog, ifindex);
			kept[j] = bench_now_us() - t0;
		}
		for (int k = 0; k < 2; k++)
			if (keep[k] >= 0)
				close(keep[k]);
		if (!err)
			err = bpf_tc_hook_create(&hook);
		for (int j = i; !err && j < n && j < i + ROUND; j++) {
			double t0 = bench_now_us();

			err = clsact_pair(prog, ifindex, false);
			filters[j] = bench_now_us() - t0;
		}
		bpf_tc_hook_destroy(&hook);
	}
	if (err) {
		fprintf(stderr, "bench_tcx: %s\n", strerror(-err));
		return 1;
	}
	printf("tcx %.1f %.1f %.1f %.1f", bench_quantile(tcx, n, 0.5), bench_quantile(tcx, n, 0.9),
	       bench_quantile(ref, n, 0.5), bench_quantile(ref, n, 0.9));
	printf(" %.1f %.1f %.1f %.1f\n", bench_quantile(kept, n, 0.5), bench_quantile(kept, n, 0.9),
	       bench_quantile(filters, n, 0.5), bench_quantile(filters, n, 0.9));
	close(prog);
	close(other);
	return 0;
}
