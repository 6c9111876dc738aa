/*
 * network.latency: refused by this agent, with the reason. Delay needs a qdisc that holds
 * packets back: netem, or sch_fq honouring EDT timestamps set by the eBPF data path. Where
 * the kernel has neither (the probe says which is missing and why), the refusal names them;
 * where it has one, this agent still refuses, because neither path is implemented yet
 * (docs/network-faults.md). Nothing is ever applied, so there is nothing to revert or clean.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "fault.h"

static int latency_probe(const struct agent *a, char *why, size_t size)
{
	const struct probe_result *netem = &a->probe.r[PROBE_NETEM], *fq = &a->probe.r[PROBE_FQ];

	if (a->probe_err) {
		snprintf(why, size, "the mechanism probe could not run: %s",
			 strerror(-a->probe_err));
		return -EOPNOTSUPP;
	}
	if (!netem->available && !fq->available) {
		snprintf(why, size, "needs sch_netem or sch_fq: %s; %s", netem->reason, fq->reason);
		return -EOPNOTSUPP;
	}
	snprintf(why, size,
		 "this agent does not implement the latency paths yet (netem steered by the eBPF "
		 "classifier, or EDT timestamps under sch_fq), although this kernel has %s",
		 netem->available ? "sch_netem" : "sch_fq");
	return -EOPNOTSUPP;
}

static int latency_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	(void)f;
	return latency_probe(a, err, size);
}

static int latency_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	(void)f;
	return latency_probe(a, err, size);
}

static int latency_revert(struct agent *a, struct fault *f, char *err, size_t size)
{
	(void)a;
	(void)f;
	(void)err;
	(void)size;
	return 0; /* never applied */
}

static int latency_cleanup(struct agent *a, const json_t *undo, char *report, size_t size)
{
	(void)a;
	(void)undo;
	snprintf(report, size, "nothing had been applied (network.latency is always refused)");
	return 0;
}

const struct fault_ops fault_net_latency = {
	.name = "network.latency",
	.caps = 0,
	.probe = latency_probe,
	.validate = latency_validate,
	.apply = latency_apply,
	.revert = latency_revert,
	.cleanup = latency_cleanup,
};
