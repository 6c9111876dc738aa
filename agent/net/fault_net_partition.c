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
	struct netfault_rule_spec act = {.action = NETFAULT_ACT_PARTITION};

	(void)a;
	return netif_fault_apply_action(f, &act, err, size);
}

const struct fault_ops fault_net_partition = {
	NETIF_RULE_OPS("network.partition"),
	.validate = netif_fault_validate,
	.apply = partition_apply,
	.target_container = netif_fault_target_container,
};
