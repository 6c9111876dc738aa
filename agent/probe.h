/* Probe of the fault mechanisms this kernel supports, done for real in a throwaway namespace. */
#ifndef FL_PROBE_H
#define FL_PROBE_H

#include <stdbool.h>

enum probe_id {
	PROBE_CLSACT_BPF, /* clsact qdisc + cls_bpf direct-action classifier */
	PROBE_NETEM,      /* sch_netem */
	PROBE_FQ,         /* sch_fq (honours EDT timestamps) */
	PROBE_HTB,        /* sch_htb */
	PROBE_TBF,        /* sch_tbf */
	PROBE_IFB,        /* ifb devices (ingress shaping) */
	PROBE_CGROUP_BPF, /* cgroup v2 + BPF_PROG_TYPE_CGROUP_SKB attach */
	PROBE__COUNT,
};

struct probe_result {
	bool available;
	char reason[240]; /* why not, when unavailable */
};

struct probe_report {
	struct probe_result r[PROBE__COUNT];
};

const char *probe_name(enum probe_id id);
const char *probe_purpose(enum probe_id id);

/*
 * Run every probe in a forked child that lives in a new network namespace, so nothing on the
 * host's interfaces is touched. Returns 0 with every result filled in (a probe that could not
 * run is "unavailable" with the reason), or -errno when the child could not be run at all.
 */
int probe_run(struct probe_report *out);

#endif
