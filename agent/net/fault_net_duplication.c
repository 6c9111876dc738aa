/*
 * network.duplication: with the given probability, send one extra copy of a matching packet
 * (bpf_clone_redirect to the same device and direction) in the eBPF data path. A copy is never
 * matched or copied again. Counters per rule.
 */
#include "exp.h"
#include "fault.h"
#include "netif.h"

static int duplication_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	return netif_fault_validate_uncorrelated(a, f, f->spec->params.duplication.correlation_ppm,
						 "duplication", err, size);
}

static int duplication_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	(void)a;
	return netif_fault_apply_prob(f, NETFAULT_ACT_DUPLICATE,
				      f->spec->params.duplication.probability_ppm, err, size);
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
	.target_container = netif_fault_target_container,
	.free_priv = netif_fault_free,
	.lease_renewed = netif_fault_lease_renewed,
	/* Off the loop, one at a time (netif.h): dozens of namespaces take seconds. */
	.off_loop = true,
	.revert_off_loop = true,
	.lane = &netif_lane,
};
