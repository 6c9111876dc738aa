/*
 * network.partition: drop every matching packet (a blackhole), both directions unless the
 * target says otherwise, in the eBPF data path. Exempt flows (the control channel, the
 * policy's protected peers and ports) pass. Counters per rule.
 */
#include <errno.h>
#include <stdio.h>

#include "exp.h"
#include "fault.h"
#include "netif.h"

static int partition_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	struct netif_action act = {.action = NETFAULT_ACT_PARTITION};

	(void)a;
	return netif_fault_apply_action(f, &act, err, size);
}

const struct fault_ops fault_net_partition = {
	.name = "network.partition",
	.caps = NETIF_CAPS,
	.caps_optional = NETIF_CAPS_NETNS,
	.probe = netif_probe,
	.validate = netif_fault_validate,
	.apply = partition_apply,
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
