/*
 * network.corruption: with the given probability, corrupt a matching packet in the eBPF data
 * path as a wire would, so the receiver's L4 checksum drops it: one random bit after the IP
 * header is flipped and no checksum fixed, or, for TCP/UDP whose checksum is still to be
 * computed (offload), the packet is dropped (bpf/netfault.bpf.c corrupt(); docs/netfault.md).
 * Counters per rule.
 */
#include "exp.h"
#include "fault.h"
#include "netif.h"

static int corruption_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	return netif_fault_validate_uncorrelated(a, f, f->spec->params.corruption.correlation_ppm,
						 "corruption", err, size);
}

static int corruption_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	(void)a;
	return netif_fault_apply_prob(f, NETFAULT_ACT_CORRUPT,
				      f->spec->params.corruption.probability_ppm, err, size);
}

const struct fault_ops fault_net_corruption = {
	.name = "network.corruption",
	.caps = NETIF_CAPS,
	.caps_optional = NETIF_CAPS_NETNS,
	.probe = netif_probe,
	.validate = corruption_validate,
	.apply = corruption_apply,
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
