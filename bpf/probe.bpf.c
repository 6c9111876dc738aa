// SPDX-License-Identifier: GPL-2.0
/*
 * Minimal programs the agent loads at start-up to find out, for real, whether this kernel can
 * attach a tc classifier on clsact and a cgroup v2 socket-buffer program. They change nothing:
 * both let every packet through, and they only ever run attached inside the probe's private
 * network namespace or on a throwaway cgroup.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int probe_tc(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("cgroup_skb/egress")
int probe_cgroup_skb(struct __sk_buff *skb)
{
	return 1; /* allow */
}

char LICENSE[] SEC("license") = "GPL";
