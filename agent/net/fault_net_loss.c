/*
 * network.loss: drop matching packets at random or following a Gilbert-Elliott channel, in
 * the eBPF data path (bpf/netfault.bpf.c) on the target interface's clsact hooks. Egress drops
 * look like wire loss to the sender (TC_ACT_STOLEN). Counters per rule in describe().
 */
#include <errno.h>
#include <stdio.h>

#include "exp.h"
#include "fault.h"
#include "netif.h"

static double ppm(uint32_t v)
{
	return v / 1e6;
}

static int loss_validate(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_net_loss *p = &f->spec->params.loss;

	if (p->model == LOSS_RANDOM && p->correlation_ppm) {
		snprintf(
			err, size,
			"params.correlation: correlated random loss is not supported by the eBPF "
			"data path (netem's correlation generator does not produce bursts either); "
			"use model: gilbert-elliott for bursty loss");
		return -EINVAL;
	}
	return netif_fault_validate(a, f, err, size);
}

static int loss_apply(struct agent *a, struct fault *f, char *err, size_t size)
{
	const struct fault_net_loss *p = &f->spec->params.loss;
	struct netfault_rule_spec act = {.action = NETFAULT_ACT_LOSS};

	(void)a;
	if (p->model == LOSS_GILBERT_ELLIOTT) {
		act.action = NETFAULT_ACT_LOSS_GE;
		act.ge.p = netfault_prob(ppm(p->p_ppm));
		act.ge.r = netfault_prob(ppm(p->r_ppm));
		act.ge.loss_bad = netfault_prob(ppm(p->one_minus_h_ppm));
		act.ge.loss_good = netfault_prob(ppm(p->one_minus_k_ppm));
	} else {
		act.prob = netfault_prob(ppm(p->probability_ppm));
	}
	return netif_fault_apply_action(f, &act, err, size);
}

const struct fault_ops fault_net_loss = {
	NETIF_RULE_OPS("network.loss"),
	.validate = loss_validate,
	.apply = loss_apply,
	.target_container = netif_fault_target_container,
};
