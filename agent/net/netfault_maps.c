/*
 * A netfault instance's maps outside the rule life cycle: the per-rule counters summed over
 * the CPUs, and the delay distribution tables loaded for the latency rules.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "netfault_impl.h"
#include "netfault.skel.h"

int netfault_rule_counters(struct netfault *nf, int slot, struct netfault_counters *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct netfault_counters *per;
	__u32 key = slot;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (slot < 0 || slot >= NETFAULT_MAX_RULES || !nf->c->rules[slot].used)
		return -ENOENT;
	if (ncpu < 0)
		return ncpu;
	per = calloc(ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(nf->c->skel->maps.rule_stats), &key, per)) {
		err = -errno;
		goto out;
	}
	for (int c = 0; c < ncpu; c++) {
		out->matched += per[c].matched;
		out->dropped += per[c].dropped;
		out->corrupted += per[c].corrupted;
		out->duplicated += per[c].duplicated;
		out->exempted += per[c].exempted;
		out->delayed += per[c].delayed;
		out->queries += per[c].queries;
		out->answered += per[c].answered;
	}
out:
	free(per);
	return err;
}

int netfault_dist_load(struct netfault *nf, enum netfault_dist dist, const int16_t *v, size_t n)
{
	struct netfault_dist_table *t;
	__u32 key = dist;
	int err = 0;

	if (dist <= NETFAULT_DIST_UNIFORM || dist >= NETFAULT_DIST__COUNT || !n ||
	    n > NETFAULT_DIST_MAX)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->size = (__u32)n;
	memcpy(t->v, v, n * sizeof(*v));
	if (bpf_map_update_elem(bpf_map__fd(nf->c->skel->maps.dist_tables), &key, t, BPF_ANY))
		err = -errno;
	free(t);
	return err;
}
