/*
 * network.duplication: with the given probability, send one extra copy of a matching packet
 * (bpf_clone_redirect to the same device and direction) in the eBPF data path. A copy is never
 * matched or copied again. Counters per rule.
 */
#include <errno.h>
#include <stdio.h>

#include "exp.h"
#include "fault.h"
#include "netif.h"

static int duplication_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	if (f->spec->params.duplication.correlation_ppm) {
		snprintf(err, size,
			 "params.correlation: correlated duplication is not supported "
			 "by the eBPF data path; leave it out");
		return -EINVAL;
	}
	return netif_fault_validate(a, f, err, size);
}

static int duplication_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	struct netif_action act = {
		.action = NETFAULT_ACT_DUPLICATE,
		.prob = netfault_prob(f->spec->params.duplication.probability_ppm / 1e6),
	};

	(void)a;
	return netif_fault_apply_action(f, &act, err, size);
}

const struct fault_ops fault_net_duplication = {
	.name = "network.duplication",
	.caps = NETIF_CAPS,
	.caps_optional = NETIF_CAPS_NETNS,
	.probe = netif_probe,
	.validate = duplication_validate,
	.apply = duplication_apply,
	.revert = netif_fault_revert,
	.resolve = netif_fault_resolve,
	.describe = netif_fault_status,
	.cleanup = netif_fault_cleanup,
	.free_priv = netif_fault_free,
	.lease_renewed = netif_fault_lease_renewed,
};
