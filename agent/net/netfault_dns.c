/*
 * The netfault module's DNS names: each pattern of a DNS rule is an entry of the program's
 * dns_names map, keyed by the hash of its name (the same hash the program computes for every
 * suffix of a query name: include/faultline/netfault.h), holding the name and the rule slots
 * that have it as an exact or a suffix pattern. Rules share entries: a slot's bit is set on
 * add and cleared on removal, and an entry without bits is deleted.
 */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "netfault_impl.h"
#include "netfault.skel.h"

uint64_t netfault_dns_hash(const uint8_t *wire, size_t len)
{
	uint64_t labels[NETFAULT_DNS_LABELS_MAX], h = NETFAULT_DNS_HASH_ROOT;
	size_t k = 0, i = 0;

	while (i < len && wire[i] && k < NETFAULT_DNS_LABELS_MAX) {
		uint64_t lh = netfault_dns_byte(NETFAULT_DNS_FNV_BASIS, wire[i]);

		for (size_t j = 1; j <= wire[i] && i + j < len; j++)
			lh = netfault_dns_byte(lh, netfault_dns_lower(wire[i + j]));
		labels[k++] = lh;
		i += wire[i] + 1;
	}
	while (k)
		h = netfault_dns_mix(h, labels[--k]);
	return h;
}

/* Set or clear slot's bit in the entry of one name; creates and deletes entries. */
static int name_update(int fd, int slot, const struct dnsname *n, bool on)
{
	struct netfault_dns_name e;
	__u64 key = netfault_dns_hash(n->wire, n->len);
	__u64 *mask;
	bool found = !bpf_map_lookup_elem(fd, &key, &e);

	if (!found && errno != ENOENT)
		return -errno;
	if (found && (e.len != n->len || memcmp(e.name, n->wire, n->len)))
		return on ? -EEXIST : 0; /* another name's entry: a 64-bit hash collision */
	if (!found) {
		if (!on)
			return 0;
		memset(&e, 0, sizeof(e));
		e.len = n->len;
		memcpy(e.name, n->wire, n->len);
	}
	mask = n->suffix ? &e.suffix : &e.exact;
	if (on)
		*mask |= RULE_BIT(slot);
	else
		*mask &= ~RULE_BIT(slot);
	if (!e.exact && !e.suffix)
		return bpf_map_delete_elem(fd, &key) && errno != ENOENT ? -errno : 0;
	if (bpf_map_update_elem(fd, &key, &e, BPF_ANY))
		return -errno;
	return 0;
}

int netfault_dns_names_add(struct netfault *nf, int slot, const struct rule_rec *rec)
{
	int fd = bpf_map__fd(nf->c->skel->maps.dns_names);

	for (size_t i = 0; i < rec->n_dns_names; i++) {
		int err = name_update(fd, slot, &rec->dns_names[i], true);

		if (err) {
			log_err("netfault: ifindex %d: rule %d: adding DNS name %zu: %s",
				nf->ifindex, slot, i, strerror(-err));
			while (i--)
				name_update(fd, slot, &rec->dns_names[i], false);
			return err;
		}
	}
	return 0;
}

void netfault_dns_names_remove(struct netfault *nf, int slot, const struct rule_rec *rec)
{
	int fd = bpf_map__fd(nf->c->skel->maps.dns_names);

	for (size_t i = 0; i < rec->n_dns_names; i++) {
		int err = name_update(fd, slot, &rec->dns_names[i], false);

		if (err)
			log_warn("netfault: ifindex %d: rule %d: removing DNS name %zu: %s",
				 nf->ifindex, slot, i, strerror(-err));
	}
}
